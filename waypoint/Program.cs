using Ambient.Observability;
using Ambient.Waypoint;
using Microsoft.Extensions.Logging;

WaypointOptions options;
try
{
    options = WaypointOptions.Parse(args, out bool help);
    if (help)
    {
        Console.Out.WriteLine(WaypointOptions.Usage);
        return 0;
    }
}
catch (ArgumentException e)
{
    Console.Error.WriteLine($"ambient-waypoint: {e.Message}");
    return 2;
}

LogLevelSwitch.TryParse(options.LogLevel, out var level);
using var logs = Logging.Create(new LogLevelSwitch(level), options.LogFormat);
var log = logs.CreateLogger("waypoint");
using var stop = new Ambient.Hosting.StopSignal();

await using var host = new WaypointHost(options, logs);
try
{
    await host.StartAsync(stop.Token);
}
catch (WaypointStartException e)
{
    log.LogCritical("cannot start: {Reason}", e.Message);
    return 2;
}
catch (OperationCanceledException) when (stop.Token.IsCancellationRequested)
{
    log.LogInformation("stopped while starting");
    return 0;
}
catch (Exception e)
{
    log.LogCritical(e, "cannot start");
    return 1;
}
await stop.WaitAsync();
log.LogInformation("stopping: draining for up to {Deadline} s", options.DrainTimeout.TotalSeconds);
await host.DrainAsync(options.DrainTimeout);
return 0;

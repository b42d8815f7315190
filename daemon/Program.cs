using Ambient.Daemon;
using Ambient.Observability;
using Microsoft.Extensions.Logging;

DaemonOptions options;
try
{
    options = DaemonOptions.Parse(args, out bool help);
    if (help)
    {
        Console.Out.WriteLine(DaemonOptions.Usage);
        return 0;
    }
}
catch (ArgumentException e)
{
    Console.Error.WriteLine($"ambient-daemon: {e.Message}");
    return 2;
}

LogLevelSwitch.TryParse(options.LogLevel, out var level);
var levels = new LogLevelSwitch(level);
using var logs = Logging.Create(levels, options.LogFormat);
var log = logs.CreateLogger("daemon");
using var stop = new Ambient.Hosting.StopSignal();

await using var daemon = new NodeDaemon(options, logs, levels, quit: stop.Request);
try
{
    await daemon.StartAsync(stop.Token);
}
catch (DaemonStartException e)
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
await daemon.DrainAsync(options.DrainTimeout);
return 0;

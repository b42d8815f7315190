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

using var logs = Logging.Create(options.LogLevel, options.LogFormat);
var log = logs.CreateLogger("daemon");
using var stop = new Ambient.Hosting.StopSignal();

await using var daemon = new NodeDaemon(options, logs);
try
{
    await daemon.StartAsync();
}
catch (DaemonStartException e)
{
    log.LogCritical("cannot start: {Reason}", e.Message);
    return 2;
}
catch (Exception e)
{
    log.LogCritical(e, "cannot start");
    return 1;
}
await stop.WaitAsync();
log.LogInformation("stopping");
return 0;

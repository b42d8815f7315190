using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Console;

namespace Ambient.Observability;

/// <summary>The minimum log level of a process, changeable while it runs (admin API <c>/logging</c>).</summary>
public sealed class LogLevelSwitch(LogLevel level)
{
    private volatile int _level = (int)level;

    public LogLevel Level
    {
        get => (LogLevel)_level;
        set => _level = (int)value;
    }

    /// <summary>The names used on the command line and by the admin API.</summary>
    public static readonly string[] Names = ["trace", "debug", "info", "warn", "error"];

    public static bool TryParse(string name, out LogLevel level)
    {
        (bool ok, level) = name switch
        {
            "trace" => (true, LogLevel.Trace),
            "debug" => (true, LogLevel.Debug),
            "info" => (true, LogLevel.Information),
            "warn" => (true, LogLevel.Warning),
            "error" => (true, LogLevel.Error),
            _ => (false, LogLevel.Information),
        };
        return ok;
    }

    public static string Name(LogLevel level) => level switch
    {
        LogLevel.Trace => "trace",
        LogLevel.Debug => "debug",
        LogLevel.Warning => "warn",
        LogLevel.Error or LogLevel.Critical => "error",
        LogLevel.None => "off",
        _ => "info",
    };
}

/// <summary>Structured logs to stdout for every Ambient process: one JSON object per line (default), or readable text.</summary>
public static class Logging
{
    public static ILoggerFactory Create(string level, string format) =>
        Create(new LogLevelSwitch(LogLevelSwitch.TryParse(level, out var parsed) ? parsed : LogLevel.Information), format);

    /// <summary>A factory whose level follows <paramref name="levels"/> (checked by each logger's IsEnabled: no restart).</summary>
    public static ILoggerFactory Create(LogLevelSwitch levels, string format) => LoggerFactory.Create(builder =>
    {
        builder.SetMinimumLevel(LogLevel.Trace);
        // Hosted frameworks (ASP.NET Core, YARP) log every request at Information; our own access log is the one
        // line per request, so theirs wait until an operator asks for debug.
        builder.AddFilter((_, category, level) => level >= levels.Level && (level >= LogLevel.Warning || levels.Level <= LogLevel.Debug || !IsFramework(category)));
        if (format == "text")
            builder.AddSimpleConsole(o => { o.SingleLine = true; o.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ "; o.UseUtcTimestamp = true; });
        else
            builder.AddJsonConsole(o => { o.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ"; o.UseUtcTimestamp = true; });
    });

    private static bool IsFramework(string? category) =>
        category is not null && (category.StartsWith("Microsoft.", StringComparison.Ordinal) || category.StartsWith("Yarp.", StringComparison.Ordinal)
            || category.StartsWith("System.", StringComparison.Ordinal));
}

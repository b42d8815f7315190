using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Console;

namespace Ambient.Observability;

/// <summary>Structured logs to stdout for every Ambient process: one JSON object per line (default), or readable text.</summary>
public static class Logging
{
    public static ILoggerFactory Create(string level, string format) => LoggerFactory.Create(builder =>
    {
        builder.SetMinimumLevel(level switch
        {
            "trace" => LogLevel.Trace,
            "debug" => LogLevel.Debug,
            "warn" => LogLevel.Warning,
            "error" => LogLevel.Error,
            _ => LogLevel.Information,
        });
        if (format == "text")
            builder.AddSimpleConsole(o => { o.SingleLine = true; o.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ "; o.UseUtcTimestamp = true; });
        else
            builder.AddJsonConsole(o => { o.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ"; o.UseUtcTimestamp = true; });
    });
}

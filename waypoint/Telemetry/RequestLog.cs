using Microsoft.Extensions.Logging;

namespace Ambient.Waypoint.Telemetry;

/// <summary>One access-log line per request (source-generated: no boxing or params array per line).</summary>
internal static partial class RequestLog
{
    [LoggerMessage(EventId = 10, Level = LogLevel.Information,
        Message = "request complete method={Method} path={Path} protocol={Protocol} status={Status} flags={ResponseFlags} src.identity={SourceIdentity} src.addr={SourceAddress} dst.service={DestinationService} upstream={Upstream} route={Route} attempts={Attempts} duration_ms={DurationMs} detail={Detail} trace_id={TraceId}")]
    public static partial void Completed(ILogger log, string method, string path, string protocol, int status, string responseFlags,
        string? sourceIdentity, string? sourceAddress, string? destinationService, string? upstream, string? route, int attempts,
        long durationMs, string? detail, string? traceId);
}

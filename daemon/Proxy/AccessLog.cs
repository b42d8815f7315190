using System.Net;
using Microsoft.Extensions.Logging;

namespace Ambient.Daemon.Proxy;

/// <summary>
/// One line per closed connection, per side (source-generated: no boxing or params array per line). Fields are
/// key=value so both humans and the JSON formatter's "State" carry them.
/// </summary>
internal static partial class AccessLog
{
    [LoggerMessage(EventId = 1, Level = LogLevel.Information,
        Message = "connection complete direction=outbound src.addr={SourceAddress} src.workload={SourceWorkload} src.identity={SourceIdentity} dst.addr={DestinationAddress} dst.workload={DestinationWorkload} dst.service={DestinationService} route={Route} bytes_sent={BytesSent} bytes_recv={BytesReceived} duration_ms={DurationMs} error={Error}")]
    public static partial void Outbound(ILogger log, IPEndPoint sourceAddress, string sourceWorkload, string sourceIdentity, IPEndPoint destinationAddress,
        string? destinationWorkload, string? destinationService, string route, long bytesSent, long bytesReceived, long durationMs, string? error);

    [LoggerMessage(EventId = 2, Level = LogLevel.Information,
        Message = "connection complete direction=inbound src.addr={SourceAddress} src.identity={SourceIdentity} dst.addr={DestinationAddress} dst.workload={DestinationWorkload} dst.service={DestinationService} status={Status} bytes_sent={BytesSent} bytes_recv={BytesReceived} duration_ms={DurationMs} error={Error}")]
    public static partial void Inbound(ILogger log, IPEndPoint sourceAddress, string? sourceIdentity, string? destinationAddress,
        string? destinationWorkload, string? destinationService, int status, long bytesSent, long bytesReceived, long durationMs, string? error);

    [LoggerMessage(EventId = 3, Level = LogLevel.Information,
        Message = "connection complete direction=inbound_plaintext src.addr={SourceAddress} dst.addr={DestinationAddress} dst.workload={DestinationWorkload} bytes_sent={BytesSent} bytes_recv={BytesReceived} duration_ms={DurationMs} error={Error}")]
    public static partial void InboundPlaintext(ILogger log, IPEndPoint sourceAddress, IPEndPoint? destinationAddress, string destinationWorkload,
        long bytesSent, long bytesReceived, long durationMs, string? error);
}

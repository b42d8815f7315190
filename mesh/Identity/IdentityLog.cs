using System.Net;
using Microsoft.Extensions.Logging;

namespace Ambient.Identity;

/// <summary>Log messages of the identity layer (source-generated).</summary>
internal static partial class IdentityLog
{
    [LoggerMessage(EventId = 3001, Level = LogLevel.Information,
        Message = "Loaded mesh root CA from {Path}: {Subject}, SHA-256 {Fingerprint}, valid until {NotAfter:u}")]
    public static partial void RootLoaded(ILogger logger, string path, string subject, string fingerprint, DateTimeOffset notAfter);

    [LoggerMessage(EventId = 3002, Level = LogLevel.Information,
        Message = "Generated new mesh root CA at {Path}: {Subject}, SHA-256 {Fingerprint}, valid until {NotAfter:u}")]
    public static partial void RootCreated(ILogger logger, string path, string subject, string fingerprint, DateTimeOffset notAfter);

    [LoggerMessage(EventId = 3010, Level = LogLevel.Information,
        Message = "Issued certificate for {Identity}: serial {Serial}, valid until {NotAfter:u}, renewal at {RenewAt:u}")]
    public static partial void CertificateIssued(ILogger logger, SpiffeId identity, string serial, DateTimeOffset notAfter, DateTimeOffset renewAt);

    [LoggerMessage(EventId = 3011, Level = LogLevel.Information,
        Message = "Renewed certificate for {Identity}: serial {Serial}, valid until {NotAfter:u}, renewal at {RenewAt:u}; previous serial {PreviousSerial} kept until {PreviousNotAfter:u}")]
    public static partial void CertificateRenewed(ILogger logger, SpiffeId identity, string serial, DateTimeOffset notAfter,
        DateTimeOffset renewAt, string previousSerial, DateTimeOffset previousNotAfter);

    [LoggerMessage(EventId = 3012, Level = LogLevel.Warning,
        Message = "Certificate issuance for {Identity} failed (attempt {Attempt}); retrying in {RetryDelay}")]
    public static partial void IssuanceFailed(ILogger logger, SpiffeId identity, int attempt, TimeSpan retryDelay, Exception exception);

    [LoggerMessage(EventId = 3020, Level = LogLevel.Warning,
        Message = "mTLS {Side} refused peer {RemoteEndPoint}: {Reason}")]
    public static partial void PeerRefused(ILogger logger, string side, EndPoint remoteEndPoint, string reason);

    [LoggerMessage(EventId = 3021, Level = LogLevel.Warning,
        Message = "mTLS {Side} refused peer: {Reason}")]
    public static partial void PeerRefusedNoEndpoint(ILogger logger, string side, string reason);

    [LoggerMessage(EventId = 3022, Level = LogLevel.Debug,
        Message = "mTLS {Side} verified peer {RemoteEndPoint} as {Identity}")]
    public static partial void PeerVerified(ILogger logger, string side, EndPoint? remoteEndPoint, SpiffeId identity);
}

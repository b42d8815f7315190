using Microsoft.Extensions.Logging;

namespace Ambient.Discovery.Kubernetes;

/// <summary>Structured log messages of the Kubernetes source (source-generated, AOT-safe).</summary>
internal static partial class KubernetesLog
{
    [LoggerMessage(EventId = 1101, Level = LogLevel.Information, Message = "Kubernetes {Kind}: listed {Count} objects at resourceVersion {ResourceVersion}")]
    public static partial void Listed(this ILogger logger, string kind, int count, string resourceVersion);

    [LoggerMessage(EventId = 1102, Level = LogLevel.Warning, Message = "Kubernetes {Kind}: {Operation} failed (attempt {Attempt}): {Error}; retrying in {Delay}")]
    public static partial void RequestFailed(this ILogger logger, string kind, string operation, int attempt, string error, TimeSpan delay);

    [LoggerMessage(EventId = 1103, Level = LogLevel.Debug, Message = "Kubernetes {Kind}: {Operation} failed again (attempt {Attempt}): {Error}; retrying in {Delay}")]
    public static partial void RequestFailedAgain(this ILogger logger, string kind, string operation, int attempt, string error, TimeSpan delay);

    [LoggerMessage(EventId = 1104, Level = LogLevel.Information, Message = "Kubernetes {Kind}: watch from resourceVersion {ResourceVersion} expired (410 Gone: {Error}); relisting")]
    public static partial void Gone(this ILogger logger, string kind, string resourceVersion, string error);

    [LoggerMessage(EventId = 1105, Level = LogLevel.Information, Message = "Kubernetes {Kind}: API server reachable again after {Failures} failed attempts")]
    public static partial void Recovered(this ILogger logger, string kind, int failures);

    [LoggerMessage(EventId = 1106, Level = LogLevel.Information, Message = "Kubernetes {Kind} ({ApiVersion}) is not served (CRD not installed?); treating it as empty and checking again every {Interval}")]
    public static partial void NotServed(this ILogger logger, string kind, string apiVersion, TimeSpan interval);

    [LoggerMessage(EventId = 1107, Level = LogLevel.Warning, Message = "Kubernetes {Kind}: ignoring a {EventType} event: {Problem}")]
    public static partial void BadEvent(this ILogger logger, string kind, string eventType, string problem);

    [LoggerMessage(EventId = 1108, Level = LogLevel.Debug, Message = "Kubernetes {Kind}: watch from resourceVersion {ResourceVersion} ended after {Events} events; resuming")]
    public static partial void WatchEnded(this ILogger logger, string kind, string resourceVersion, int events);

    [LoggerMessage(EventId = 1110, Level = LogLevel.Warning, Message = "Ignoring Kubernetes {Kind} {Object}: {Field}: {Reason}")]
    public static partial void ObjectRejected(this ILogger logger, string kind, string @object, string field, string reason);

    [LoggerMessage(EventId = 1111, Level = LogLevel.Warning, Message = "Kubernetes {Kind} {Object}: {Field}: {Reason}")]
    public static partial void ObjectWarning(this ILogger logger, string kind, string @object, string field, string reason);

    [LoggerMessage(EventId = 1112, Level = LogLevel.Information, Message = "Kubernetes {Kind} {Object} is no longer rejected (fixed or deleted)")]
    public static partial void ObjectAccepted(this ILogger logger, string kind, string @object);

    [LoggerMessage(EventId = 1120, Level = LogLevel.Information,
        Message = "Published Kubernetes config generation {Generation}: {WorkloadCount} workloads, {ServiceCount} services, {AuthorizationPolicyCount} authorization policies, {PeerAuthenticationCount} peer authentications; {RejectedCount} objects rejected")]
    public static partial void Published(this ILogger logger, long generation, int workloadCount, int serviceCount, int authorizationPolicyCount, int peerAuthenticationCount, int rejectedCount);

    [LoggerMessage(EventId = 1121, Level = LogLevel.Error, Message = "Rebuilding the config from Kubernetes failed; keeping generation {Generation}")]
    public static partial void RebuildFailed(this ILogger logger, Exception exception, long generation);

    [LoggerMessage(EventId = 1122, Level = LogLevel.Error, Message = "A ConfigStore subscriber failed on Kubernetes config generation {Generation}")]
    public static partial void SubscriberFailed(this ILogger logger, Exception exception, long generation);
}

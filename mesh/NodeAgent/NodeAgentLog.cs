using Microsoft.Extensions.Logging;

namespace Ambient.NodeAgent;

/// <summary>Structured log messages of the node agent protocol (source-generated, AOT-safe).</summary>
internal static partial class NodeAgentLog
{
    // Daemon side.
    [LoggerMessage(EventId = 4101, Level = LogLevel.Information, Message = "Listening for the node agent on {Path}")]
    public static partial void Listening(this ILogger logger, string path);

    [LoggerMessage(EventId = 4102, Level = LogLevel.Information, Message = "Node agent connected (session {Session})")]
    public static partial void AgentConnected(this ILogger logger, long session);

    [LoggerMessage(EventId = 4103, Level = LogLevel.Information, Message = "Node agent disconnected (session {Session}, {Messages} messages)")]
    public static partial void AgentDisconnected(this ILogger logger, long session, long messages);

    [LoggerMessage(EventId = 4104, Level = LogLevel.Warning, Message = "Node agent session {Session} failed")]
    public static partial void SessionFailed(this ILogger logger, Exception exception, long session);

    [LoggerMessage(EventId = 4105, Level = LogLevel.Warning, Message = "Rejected node agent message in session {Session}: {Error}")]
    public static partial void MessageRejected(this ILogger logger, long session, string error);

    [LoggerMessage(EventId = 4106, Level = LogLevel.Error, Message = "Node agent handler failed on {MessageType}")]
    public static partial void HandlerFailed(this ILogger logger, Exception exception, string messageType);

    [LoggerMessage(EventId = 4107, Level = LogLevel.Error, Message = "Accepting node agent connections on {Path} failed; retrying")]
    public static partial void AcceptFailed(this ILogger logger, Exception exception, string path);

    [LoggerMessage(EventId = 4108, Level = LogLevel.Debug, Message = "Node agent {MessageType} {Uid} → {Error}")]
    public static partial void Handled(this ILogger logger, string messageType, string uid, string error);

    [LoggerMessage(EventId = 4109, Level = LogLevel.Information, Message = "Node agent snapshot complete: {Count} pods")]
    public static partial void SnapshotComplete(this ILogger logger, int count);

    // Agent side.
    [LoggerMessage(EventId = 4120, Level = LogLevel.Information, Message = "Connected to the daemon at {Path}; sent a snapshot of {Count} pods")]
    public static partial void Synced(this ILogger logger, string path, int count);

    [LoggerMessage(EventId = 4121, Level = LogLevel.Warning, Message = "Cannot reach the daemon at {Path}: {Reason}; retrying with backoff")]
    public static partial void Unreachable(this ILogger logger, string path, string reason);

    [LoggerMessage(EventId = 4122, Level = LogLevel.Warning, Message = "Connection to the daemon at {Path} lost: {Reason}; reconnecting")]
    public static partial void ConnectionLost(this ILogger logger, string path, string reason);

    [LoggerMessage(EventId = 4123, Level = LogLevel.Error, Message = "The daemon at {Path} refused hello: {Error}")]
    public static partial void HelloRefused(this ILogger logger, string path, string error);

    [LoggerMessage(EventId = 4124, Level = LogLevel.Warning, Message = "The daemon refused {MessageType} for pod {Uid}: {Error}")]
    public static partial void ChangeRefused(this ILogger logger, string messageType, string uid, string error);
}

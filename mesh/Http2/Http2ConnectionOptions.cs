using System.Net;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Ambient.Http2;

/// <summary>Limits and timers of one HTTP/2 connection. Defaults are the HBONE conventions (DESIGN.md §3).</summary>
public sealed record Http2ConnectionOptions
{
    public const int MiB = 1024 * 1024;

    public required bool IsServer { get; init; }
    /// <summary>SETTINGS_INITIAL_WINDOW_SIZE we grant each stream.</summary>
    public int StreamWindow { get; init; } = 4 * MiB;
    /// <summary>Connection-level receive window we grant.</summary>
    public int ConnectionWindow { get; init; } = 16 * MiB;
    /// <summary>SETTINGS_MAX_FRAME_SIZE we accept.</summary>
    public int MaxFrameSize { get; init; } = 1 * MiB;
    /// <summary>SETTINGS_MAX_CONCURRENT_STREAMS we accept (server), beyond which streams are refused.</summary>
    public int MaxConcurrentStreams { get; init; } = 200;
    /// <summary>Streams this side opens on one connection before the pool must use another (client).</summary>
    public int MaxLocalStreams { get; init; } = 100;
    /// <summary>Bound on a decoded header list (16 KB client side, 64 KB server side).</summary>
    public int MaxHeaderListSize { get; init; } = 64 * 1024;
    /// <summary>Bound on the CONTINUATION frames of one header block.</summary>
    public int MaxContinuationFrames { get; init; } = 32;
    public TimeSpan PingInterval { get; init; } = TimeSpan.FromSeconds(10);
    public TimeSpan PingTimeout { get; init; } = TimeSpan.FromSeconds(20);
    /// <summary>The peer's preface and first SETTINGS must arrive within this time.</summary>
    public TimeSpan PrefaceTimeout { get; init; } = TimeSpan.FromSeconds(10);
    /// <summary>Encoded-but-unsent output above which DATA writers wait; keeps a slow reader from growing our memory.</summary>
    public int MaxBufferedOutput { get; init; } = 1 * MiB;
    /// <summary>Frames that make us answer (PING, SETTINGS) or cost work for nothing (empty DATA, PRIORITY) allowed per second.</summary>
    public int MaxControlFramesPerSecond { get; init; } = 1000;
    /// <summary>Peer resets tolerated in a 10 s window when they outnumber completed streams ("rapid reset").</summary>
    public int MaxResetsPerWindow { get; init; } = 100;
    public ILogger Logger { get; init; } = NullLogger.Instance;

    public static Http2ConnectionOptions Server => new() { IsServer = true };
    public static Http2ConnectionOptions Client => new() { IsServer = false, MaxHeaderListSize = 16 * 1024 };
}

/// <summary>Who is on the other end of a connection; set once the transport (and TLS) is established.</summary>
public sealed record Http2ConnectionInfo(EndPoint? LocalEndPoint, EndPoint? RemoteEndPoint, string? PeerIdentity = null);

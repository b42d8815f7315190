namespace Ambient.NodeAgent;

/// <summary>Settings of a <see cref="NodeAgentClient"/>.</summary>
public sealed class NodeAgentClientOptions
{
    /// <summary>The daemon's socket.</summary>
    public string SocketPath { get; init; } = NodeAgentCodec.DefaultSocketPath;

    /// <summary>How long to wait for each ack before giving up on the connection and reconnecting.</summary>
    public TimeSpan AckTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>How long a connection attempt may take.</summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>First delay before reconnecting (after a session that had synced, the delay starts here again).</summary>
    public TimeSpan ReconnectMinDelay { get; init; } = TimeSpan.FromMilliseconds(100);

    /// <summary>
    /// The delay doubles after every failed attempt up to this. Kept short: dialling a local Unix socket is cheap,
    /// and a restarted daemon must get its pods back within 2 s.
    /// </summary>
    public TimeSpan ReconnectMaxDelay { get; init; } = TimeSpan.FromMilliseconds(500);
}

namespace Ambient.NodeAgent;

/// <summary>
/// A message of the node agent ↔ daemon protocol (see <see cref="NodeAgentCodec"/> for the wire format and the
/// session rules). The set is closed: every message is one of the nested records.
/// </summary>
public abstract record NodeAgentMessage
{
    private NodeAgentMessage()
    {
    }

    /// <summary>The value of the <c>"type"</c> field on the wire.</summary>
    public abstract string WireType { get; }

    /// <summary>Whether the message must carry a network-namespace descriptor (<c>add</c> and <c>keep</c>).</summary>
    public bool RequiresNetns => this is Add or Keep;

    /// <summary>Agent → daemon, first message of every connection.</summary>
    public sealed record Hello(int Version) : NodeAgentMessage
    {
        public override string WireType => "hello";
    }

    /// <summary>Agent → daemon, with the pod's network namespace attached: the pod joined the mesh.</summary>
    public sealed record Add(PodInfo Pod) : NodeAgentMessage
    {
        public override string WireType => "add";
    }

    /// <summary>
    /// Agent → daemon, with the pod's network namespace attached: during the snapshot replay after <c>hello</c>, a pod
    /// the daemon may already have. Same body as <see cref="Add"/> so that a daemon that restarted (and has nothing to
    /// keep) can add it.
    /// </summary>
    public sealed record Keep(PodInfo Pod) : NodeAgentMessage
    {
        public override string WireType => "keep";
    }

    /// <summary>Agent → daemon: the snapshot replay is complete; pods neither added nor kept since hello are gone.</summary>
    public sealed record SnapshotSent : NodeAgentMessage
    {
        public override string WireType => "snapshotSent";
    }

    /// <summary>Agent → daemon: the pod left the mesh (or was deleted).</summary>
    public sealed record Delete(string Uid) : NodeAgentMessage
    {
        public override string WireType => "delete";
    }

    /// <summary>Daemon → agent, answering every message in order; <see cref="Error"/> is null on success.</summary>
    public sealed record Ack(string? Error) : NodeAgentMessage
    {
        /// <summary>A successful acknowledgement.</summary>
        public static Ack Ok { get; } = new((string?)null);

        public override string WireType => "ack";
    }
}

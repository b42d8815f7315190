using System.Net;

namespace Ambient.TestBed;

/// <summary>
/// A node: a network namespace (the node's "host network", where a node daemon runs) with <c>eth0</c> on the
/// cluster network, IP forwarding on, and routes to the other nodes' pod CIDRs via their node IPs.
/// </summary>
public sealed class Node : NetworkNamespace
{
    private readonly List<Pod> _pods = [];
    private int _nextPodHost = 2;

    internal Node(Cluster cluster, string name, int index, IPAddress ip, IPNetwork podCidr, string netnsName, string bridgePort)
        : base(netnsName, "eth0", cluster.Options.Log)
    {
        Cluster = cluster;
        Name = name;
        Index = index;
        IP = ip;
        PodCidr = podCidr;
        PodGateway = Addressing.Add(podCidr.BaseAddress, 1);
        BridgePort = bridgePort;
    }

    public Cluster Cluster { get; }

    /// <summary>The node's name, e.g. <c>node1</c>.</summary>
    public string Name { get; }

    /// <summary>1-based position in the cluster (decides its addresses).</summary>
    public int Index { get; }

    /// <summary>The node's address on the cluster network (on its <c>eth0</c>).</summary>
    public IPAddress IP { get; }

    /// <summary>Addresses of this node's pods.</summary>
    public IPNetwork PodCidr { get; }

    /// <summary>The first address of <see cref="PodCidr"/>: on every pod's host-side veth, and the pods' default gateway.</summary>
    public IPAddress PodGateway { get; }

    /// <summary>The node's uplink as seen from the cluster network namespace (a port of the bridge there).</summary>
    public string BridgePort { get; }

    /// <summary>The pods on this node (deleted ones drop out).</summary>
    public IReadOnlyList<Pod> Pods { get { lock (_pods) return _pods.ToArray(); } }

    /// <summary>
    /// Creates a pod on this node: a namespace with <c>eth0</c> (<c>IP/32</c>, default route via
    /// <see cref="PodGateway"/>) joined by a veth pair to the node. Names follow Kubernetes rules (lowercase DNS labels).
    /// </summary>
    public Pod AddPod(string @namespace, string name, string serviceAccount = "default") =>
        Cluster.AddPodTo(this, @namespace, name, serviceAccount);

    internal int TakePodHost()
    {
        int host = _nextPodHost;
        if (host >= Addressing.Size(PodCidr) - 1) throw new TestBedException($"pod CIDR {PodCidr} of node {Name} is full");
        _nextPodHost++;
        return host;
    }

    internal void Attach(Pod pod) { lock (_pods) _pods.Add(pod); }
    internal void Detach(Pod pod) { lock (_pods) _pods.Remove(pod); }

    public override string ToString() => $"node {Name} ({IP}, pods {PodCidr}) [{NetnsName}]";
}

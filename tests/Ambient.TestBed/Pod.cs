using System.Net;

namespace Ambient.TestBed;

/// <summary>A pod: a network namespace with <c>eth0</c> (its <see cref="IP"/>) joined by a veth pair to its node.</summary>
public sealed class Pod : NetworkNamespace
{
    internal Pod(Node node, string @namespace, string name, string serviceAccount, IPAddress ip, string netnsName, string hostVeth)
        : base(netnsName, "eth0", node.Cluster.Options.Log)
    {
        Node = node;
        Namespace = @namespace;
        Name = name;
        ServiceAccount = serviceAccount;
        IP = ip;
        HostVeth = hostVeth;
    }

    public string Name { get; }

    /// <summary>The Kubernetes namespace (not the network namespace: that is <see cref="NetworkNamespace.NetnsName"/>).</summary>
    public string Namespace { get; }

    /// <summary>Metadata for mesh configs (identity <c>spiffe://…/ns/{Namespace}/sa/{ServiceAccount}</c>); no effect on networking.</summary>
    public string ServiceAccount { get; }

    public Node Node { get; }

    /// <summary>The pod's address (on its <c>eth0</c>, as a /32).</summary>
    public IPAddress IP { get; }

    /// <summary>The pod's default gateway, <see cref="TestBed.Node.PodGateway"/> (also the source of node-to-pod traffic).</summary>
    public IPAddress Gateway => Node.PodGateway;

    /// <summary>The node-side end of the pod's veth pair, in the node's namespace (≤ 15 characters).</summary>
    public string HostVeth { get; }

    /// <summary>Removes the pod: stops its processes and captures, deletes its veth pair and namespace. Idempotent.</summary>
    public void Delete() => Node.Cluster.DeletePod(this);

    public override string ToString() => $"pod {Namespace}/{Name} ({IP} on {Node.Name}) [{NetnsName}]";
}

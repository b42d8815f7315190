using System.Net;

namespace Ambient.TestBed;

/// <summary>How a <see cref="Cluster"/> is named and addressed. Addresses exist only inside the cluster's namespaces.</summary>
public sealed record ClusterOptions
{
    /// <summary>Start of every namespace name (lowercase letters and digits, ≤ 12): <c>{Prefix}-{Id}_…</c>.</summary>
    public string Prefix { get; init; } = "amb";

    /// <summary>Run id (lowercase letters and digits, ≤ 16). Null: 6 random characters, unique per run.</summary>
    public string? Id { get; init; }

    /// <summary>The network between the nodes: node N (1-based, in order of <see cref="Cluster.AddNode"/>) gets host address 10 + N.</summary>
    public IPNetwork NodeSubnet { get; init; } = IPNetwork.Parse("172.30.0.0/24");

    /// <summary>Pod addresses: node N gets the N-th block of <see cref="NodePodPrefixLength"/> bits in here.</summary>
    public IPNetwork PodSubnet { get; init; } = IPNetwork.Parse("10.201.0.0/16");

    /// <summary>Size of each node's pod CIDR (default /24: 10.201.N.0/24; gateway .1, pods .2 upwards).</summary>
    public int NodePodPrefixLength { get; init; } = 24;

    /// <summary>
    /// Turn IPv6 off on the cluster's links (loopback keeps ::1), so captures show no neighbour-discovery chatter
    /// and nothing waits for duplicate address detection.
    /// </summary>
    public bool DisableIPv6 { get; init; } = true;

    /// <summary>How long tear-down waits for processes after SIGTERM before SIGKILL.</summary>
    public TimeSpan StopGrace { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>Receives a line per action (namespaces, ip batches, processes), for a verbose `deploy local`.</summary>
    public Action<string>? Log { get; init; }
}

using System.Net;

namespace Ambient.NodeAgent;

/// <summary>
/// What the daemon learns about a pod entering the mesh: the pod's uid (the key of every later message), its name,
/// namespace and service account (its identity), and its addresses.
/// </summary>
public sealed record PodInfo(string Uid, string Name, string Namespace, string ServiceAccount, IReadOnlyList<IPAddress> Ips)
{
    /// <summary>Value equality, including the addresses in order.</summary>
    public bool Equals(PodInfo? other) =>
        other is not null &&
        Uid == other.Uid && Name == other.Name && Namespace == other.Namespace && ServiceAccount == other.ServiceAccount &&
        Ips.SequenceEqual(other.Ips);

    public override int GetHashCode()
    {
        var hash = new HashCode();
        hash.Add(Uid);
        hash.Add(Name);
        hash.Add(Namespace);
        hash.Add(ServiceAccount);
        foreach (var ip in Ips) hash.Add(ip);
        return hash.ToHashCode();
    }

    public override string ToString() => $"{Namespace}/{Name} (uid {Uid}, sa {ServiceAccount}, ips [{string.Join(", ", Ips)}])";
}

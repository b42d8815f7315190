using System.Collections.Immutable;
using System.Net;

namespace Ambient.Config;

/// <summary>A workload (pod/VM/process) reachable through the mesh.</summary>
public sealed record Workload
{
    private string? _identity;

    /// <summary>Unique id; defaults to <c>"&lt;namespace&gt;/&lt;name&gt;"</c>.</summary>
    public required string Uid { get; init; }

    public required string Name { get; init; }

    public required string Namespace
    {
        get;
        init { field = value; _identity = null; }
    }

    public string ServiceAccount
    {
        get;
        init { field = value; _identity = null; }
    } = "default";

    /// <summary>The mesh trust domain the workload's identity is issued in (the config's <c>trustDomain</c>).</summary>
    public string TrustDomain
    {
        get;
        init { field = value; _identity = null; }
    } = MeshConfig.DefaultTrustDomain;

    /// <summary>SPIFFE identity <c>spiffe://&lt;trustDomain&gt;/ns/&lt;namespace&gt;/sa/&lt;serviceAccount&gt;</c>.</summary>
    public string Identity => _identity ??= SpiffeIdentity(TrustDomain, Namespace, ServiceAccount);

    /// <summary>At least one address; unique per <see cref="Network"/> across the config.</summary>
    public required ImmutableArray<IPAddress> Addresses { get; init; }

    /// <summary>Node the workload runs on (the daemon serves workloads of its own node); default <c>"local"</c>.</summary>
    public string Node { get; init; } = "local";

    /// <summary>Network the addresses belong to; default <c>""</c> (the local flat network).</summary>
    public string Network { get; init; } = "";

    public Locality Locality { get; init; } = Locality.Empty;

    public ImmutableDictionary<string, string> Labels { get; init; } = ImmutableDictionary<string, string>.Empty;

    public WorkloadProtocol Protocol { get; init; } = WorkloadProtocol.Hbone;

    /// <summary>Waypoint service that processes traffic addressed to this workload, if any.</summary>
    public NamespacedName? Waypoint { get; init; }

    /// <summary>
    /// A waypoint's own workload (pod): it terminates HBONE on 15008 itself, so node daemons neither serve nor
    /// capture it (Istio labels waypoint pods <c>istio.io/dataplane-mode: none</c> for the same reason); it is still
    /// an HBONE destination for the traffic sent through it.
    /// </summary>
    public bool IsWaypointProxy { get; init; }

    /// <summary>
    /// Services this workload is an endpoint of: key <c>"&lt;namespace&gt;/&lt;hostname&gt;"</c> (always the hostname
    /// after loading), value service port → target port on this workload. A target port of 0 means "use the
    /// service's target port"; service ports not listed also use the service's mapping.
    /// </summary>
    public ImmutableDictionary<string, ImmutableDictionary<int, int>> Services { get; init; } =
        ImmutableDictionary<string, ImmutableDictionary<int, int>>.Empty;

    public static string SpiffeIdentity(string trustDomain, string @namespace, string serviceAccount) =>
        $"spiffe://{trustDomain}/ns/{@namespace}/sa/{serviceAccount}";
}

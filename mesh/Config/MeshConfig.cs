using System.Collections.Immutable;

namespace Ambient.Config;

/// <summary>The whole validated local configuration: one successful load of the YAML file.</summary>
public sealed record MeshConfig
{
    public const string DefaultTrustDomain = "cluster.local";

    /// <summary>Policies in this namespace apply mesh-wide (Istio's default root namespace).</summary>
    public const string RootNamespace = "istio-system";

    public static MeshConfig Empty { get; } = new();

    public string TrustDomain { get; init; } = DefaultTrustDomain;
    public ImmutableArray<Workload> Workloads { get; init; } = [];
    public ImmutableArray<Service> Services { get; init; } = [];
    public ImmutableArray<AuthorizationPolicy> AuthorizationPolicies { get; init; } = [];
    public ImmutableArray<PeerAuthentication> PeerAuthentications { get; init; } = [];
    /// <summary>Gateway API HTTPRoutes (GAMMA: attached to services); applied by waypoints.</summary>
    public ImmutableArray<Routes.HttpRoute> HttpRoutes { get; init; } = [];
    public ImmutableArray<Routes.GrpcRoute> GrpcRoutes { get; init; } = [];
    /// <summary>Istio DestinationRules: circuit breaking and outlier detection per service, applied by waypoints.</summary>
    public ImmutableArray<Routes.DestinationRule> DestinationRules { get; init; } = [];
    /// <summary>Istio RequestAuthentications (JWT), applied by waypoints.</summary>
    public ImmutableArray<Routes.RequestAuthentication> RequestAuthentications { get; init; } = [];

    /// <summary>Incremented by the owner of the config for every successful load; 0 for <see cref="Empty"/>.</summary>
    public long Generation { get; init; }

    /// <summary>Objects of the source left out because they were invalid (<c>workloads[2]</c>, ...), for status reports.</summary>
    public ImmutableArray<string> RejectedObjects { get; init; } = [];

    /// <summary>Where the config came from (file path, or a source name for text/embedded loads).</summary>
    public string Source { get; init; } = "";
}

using System.Collections.Immutable;

namespace Ambient.Discovery.Kubernetes;

/// <summary>A consistent copy of every cache, the input of one rebuild.</summary>
internal sealed record KubernetesObjects
{
    public ImmutableArray<CachedObject> Namespaces { get; init; } = [];
    public ImmutableArray<CachedObject> Pods { get; init; } = [];
    public ImmutableArray<CachedObject> Services { get; init; } = [];
    public ImmutableArray<CachedObject> EndpointSlices { get; init; } = [];
    public ImmutableArray<CachedObject> Gateways { get; init; } = [];
    public ImmutableArray<CachedObject> AuthorizationPolicies { get; init; } = [];
    public ImmutableArray<CachedObject> PeerAuthentications { get; init; } = [];
    public ImmutableArray<CachedObject> HttpRoutes { get; init; } = [];
    public ImmutableArray<CachedObject> GrpcRoutes { get; init; } = [];
    public ImmutableArray<CachedObject> DestinationRules { get; init; } = [];
    public ImmutableArray<CachedObject> RequestAuthentications { get; init; } = [];
}

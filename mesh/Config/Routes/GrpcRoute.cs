using System.Collections.Immutable;

namespace Ambient.Config.Routes;

/// <summary>Gateway API <c>GRPCRoute</c>; the extension annotations work as on <see cref="HttpRoute"/>.</summary>
public sealed record GrpcRoute
{
    public required string Name { get; init; }
    public required string Namespace { get; init; }
    public ImmutableArray<RouteParentRef> ParentRefs { get; init; } = [];
    public ImmutableArray<string> Hostnames { get; init; } = [];
    public ImmutableArray<GrpcRouteRule> Rules { get; init; } = [];
    public FaultInjection? Fault { get; init; }
    public LocalRateLimit? RateLimit { get; init; }

    public string Key => $"{Namespace}/{Name}";
}

/// <summary><c>rules[]</c>; an empty <see cref="Matches"/> matches every gRPC request.</summary>
public sealed record GrpcRouteRule
{
    public string? Name { get; init; }
    public ImmutableArray<GrpcRouteMatch> Matches { get; init; } = [];
    public ImmutableArray<RouteFilter> Filters { get; init; } = [];
    public ImmutableArray<RouteBackendRef> BackendRefs { get; init; } = [];
}

public sealed record GrpcRouteMatch
{
    public GrpcMethodMatch? Method { get; init; }
    public ImmutableArray<RouteValueMatch> Headers { get; init; } = [];
}

/// <summary><c>method: { type, service, method }</c>; at least one of service and method is set; null = any.</summary>
public sealed record GrpcMethodMatch(StringMatchType Type, string? Service, string? Method);

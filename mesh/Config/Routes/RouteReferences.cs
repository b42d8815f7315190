namespace Ambient.Config.Routes;

/// <summary>
/// Gateway API <c>parentRefs[]</c>. GAMMA attaches a route to a Service (<c>group: ""</c>, <c>kind: Service</c>),
/// optionally to one of its ports; a Gateway parent (the defaults) attaches it to a gateway's listeners.
/// <see cref="Namespace"/> is resolved: the route's namespace when omitted.
/// </summary>
public sealed record RouteParentRef
{
    public const string GatewayGroup = "gateway.networking.k8s.io";

    public string Group { get; init; } = GatewayGroup;
    public string Kind { get; init; } = "Gateway";
    public required string Name { get; init; }
    public required string Namespace { get; init; }
    public string? SectionName { get; init; }
    public int? Port { get; init; }

    public bool IsService => Kind == "Service" && Group.Length == 0;
}

/// <summary>
/// A backend: Gateway API <c>backendRef</c> (also the target of <c>RequestMirror</c>). Only core Services are
/// supported; <see cref="Namespace"/> is resolved to the route's namespace when omitted.
/// </summary>
public sealed record BackendReference
{
    public string Group { get; init; } = "";
    public string Kind { get; init; } = "Service";
    public required string Name { get; init; }
    public required string Namespace { get; init; }
    public int? Port { get; init; }

    public string Key => Port is { } port ? $"{Namespace}/{Name}:{port}" : $"{Namespace}/{Name}";
}

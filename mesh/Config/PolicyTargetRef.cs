namespace Ambient.Config;

/// <summary>Istio <c>spec.targetRefs[]</c> (Gateway API policy attachment): attaches a policy to a waypoint/gateway or service.</summary>
public sealed record PolicyTargetRef
{
    /// <summary>API group, e.g. <c>gateway.networking.k8s.io</c>; <c>""</c> for core (Service).</summary>
    public string Group { get; init; } = "";

    /// <summary><c>Gateway</c>, <c>GatewayClass</c>, <c>Service</c> or <c>ServiceEntry</c>.</summary>
    public required string Kind { get; init; }

    public required string Name { get; init; }

    /// <summary>Optional; when set it must equal the policy's namespace.</summary>
    public string? Namespace { get; init; }
}

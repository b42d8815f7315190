using System.Collections.Immutable;

namespace Ambient.Config;

/// <summary>
/// Istio <c>security.istio.io/v1 AuthorizationPolicy</c> (metadata flattened into <see cref="Name"/>/<see cref="Namespace"/>).
/// Scope: policies in <see cref="MeshConfig.RootNamespace"/> apply to all namespaces, others to their own namespace;
/// <see cref="Selector"/> narrows to matching workloads; policies with <see cref="TargetRefs"/> attach to
/// waypoints/gateways instead of workloads.
/// </summary>
public sealed record AuthorizationPolicy
{
    public required string Name { get; init; }

    public required string Namespace { get; init; }

    /// <summary><c>spec.selector</c>; null = every workload in scope.</summary>
    public WorkloadSelector? Selector { get; init; }

    /// <summary><c>spec.targetRefs</c> (plus the deprecated singular <c>spec.targetRef</c>).</summary>
    public ImmutableArray<PolicyTargetRef> TargetRefs { get; init; } = [];

    public AuthorizationAction Action { get; init; } = AuthorizationAction.Allow;

    /// <summary><c>spec.provider.name</c>; set exactly when <see cref="Action"/> is CUSTOM.</summary>
    public string? Provider { get; init; }

    /// <summary>
    /// <c>spec.rules</c>. Empty = the policy matches nothing (an ALLOW policy without rules denies everything it selects);
    /// a rule with no from/to/when matches everything.
    /// </summary>
    public ImmutableArray<AuthorizationRule> Rules { get; init; } = [];

    public string Key => $"{Namespace}/{Name}";
}

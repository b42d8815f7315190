using System.Collections.Immutable;
using Ambient.Config;

namespace Ambient.Waypoint.Security;

/// <summary>
/// Which policies a waypoint enforces for a request, with Istio ambient's attachment rules: a policy applies when
/// one of its <c>targetRefs</c> names the waypoint's Gateway (all traffic through it), the destination Service, or
/// — from the root namespace — the <c>istio-waypoint</c> GatewayClass. Policies with a <c>selector</c> (or neither
/// selector nor targetRefs) belong to workloads and are enforced by the node daemon at L4, not here.
/// Used once per (service, config snapshot) to build an <see cref="L7PolicySet"/> or a <see cref="JwtAuthenticator"/>.
/// </summary>
public static class WaypointPolicyScope
{
    public const string WaypointGatewayClass = "istio-waypoint";

    /// <param name="policyNamespace">The namespace of the policy holding <paramref name="targetRefs"/>.</param>
    /// <param name="waypoint">The waypoint's Gateway (namespace/name).</param>
    /// <param name="service">The destination service of the request.</param>
    public static bool Applies(ImmutableArray<PolicyTargetRef> targetRefs, string policyNamespace, NamespacedName waypoint, NamespacedName service, string rootNamespace = MeshConfig.RootNamespace)
    {
        foreach (var target in targetRefs)
        {
            var ns = target.Namespace ?? policyNamespace;
            var applies = target.Kind switch
            {
                "Gateway" => ns == waypoint.Namespace && target.Name == waypoint.Name,
                "Service" => ns == service.Namespace && target.Name == service.Name,
                "GatewayClass" => policyNamespace == rootNamespace && target.Name == WaypointGatewayClass,
                _ => false,
            };
            if (applies) return true;
        }
        return false;
    }

    public static IEnumerable<AuthorizationPolicy> AuthorizationPolicies(IEnumerable<AuthorizationPolicy> all, NamespacedName waypoint, NamespacedName service, string rootNamespace = MeshConfig.RootNamespace)
    {
        foreach (var policy in all)
        {
            if (Applies(policy.TargetRefs, policy.Namespace, waypoint, service, rootNamespace)) yield return policy;
        }
    }

    public static IEnumerable<Config.Routes.RequestAuthentication> RequestAuthentications(IEnumerable<Config.Routes.RequestAuthentication> all, NamespacedName waypoint, NamespacedName service, string rootNamespace = MeshConfig.RootNamespace)
    {
        foreach (var policy in all)
        {
            if (Applies(policy.TargetRefs, policy.Namespace, waypoint, service, rootNamespace)) yield return policy;
        }
    }
}

using System.Collections.Concurrent;
using Ambient.Config;
using Ambient.Waypoint.Routing;
using Ambient.Waypoint.Security;

namespace Ambient.Waypoint.Proxy;

/// <summary>
/// What one config snapshot compiles to for the waypoint: route tables, and (lazily, per destination service) the
/// L7 policies and JWT rules that apply. Immutable once built; the pipeline reads the current one per request and a
/// config change swaps in a new one.
/// </summary>
public sealed class WaypointState
{
    private readonly ConcurrentDictionary<NamespacedName, L7PolicySet> _policies = new();
    private readonly ConcurrentDictionary<NamespacedName, JwtAuthenticator> _authenticators = new();
    private readonly JwksCache _jwks;

    public WaypointState(MeshSnapshot snapshot, NamespacedName waypoint, JwksCache jwks)
    {
        Snapshot = snapshot;
        Waypoint = waypoint;
        _jwks = jwks;
        HttpRoutes = HttpRouteTable.Build(snapshot.Config.HttpRoutes);
        GrpcRoutes = GrpcRouteTable.Build(snapshot.Config.GrpcRoutes);
    }

    public MeshSnapshot Snapshot { get; }
    public NamespacedName Waypoint { get; }
    public HttpRouteTable HttpRoutes { get; }
    public GrpcRouteTable GrpcRoutes { get; }

    /// <summary>AuthorizationPolicies targeting this waypoint (Gateway), the destination service, or the waypoint class.</summary>
    public L7PolicySet PoliciesFor(NamespacedName service) => _policies.GetOrAdd(service, s =>
        L7PolicySet.Build(WaypointPolicyScope.AuthorizationPolicies(Snapshot.Config.AuthorizationPolicies, Waypoint, s)));

    /// <summary>RequestAuthentications for the same scope; rules that cannot be used are left out (and were logged by config load).</summary>
    public JwtAuthenticator AuthenticatorFor(NamespacedName service) => _authenticators.GetOrAdd(service, s =>
        JwtAuthenticator.Build(WaypointPolicyScope.RequestAuthentications(Snapshot.Config.RequestAuthentications, Waypoint, s), _jwks, TimeProvider.System, out _));
}

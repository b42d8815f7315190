using System.Collections.Immutable;
using Ambient.Config.Routes;
using Ambient.Waypoint.Resilience;

namespace Ambient.Waypoint.Routing;

public enum RoutePlanKind
{
    /// <summary>Forward to <see cref="RoutePlan.Forward"/>.</summary>
    Forward,
    /// <summary>Answer with <see cref="RoutePlan.Redirect"/> (a RequestRedirect filter).</summary>
    Redirect,
    /// <summary>The rule has no backend with weight above 0: Gateway API answers 500.</summary>
    NoBackend,
}

/// <summary>What the waypoint does with a routed request; exactly the member named by <see cref="Kind"/> is set.</summary>
public sealed record RoutePlan(RoutePlanKind Kind, ForwardPlan? Forward = null, RedirectResponse? Redirect = null)
{
    public const int NoBackendStatusCode = 500;
}

/// <summary>
/// A request to forward: the picked backend, the authority and path after URLRewrite (the query is unchanged),
/// header modifiers in application order (the rule's, then the backend's), mirrors that fired, and the rule's
/// retry and timeout policies.
/// </summary>
public sealed record ForwardPlan(
    RouteBackendRef Backend,
    string Authority,
    string Path,
    ImmutableArray<HeaderModifier> RequestHeaders,
    ImmutableArray<HeaderModifier> ResponseHeaders,
    ImmutableArray<BackendReference> Mirrors,
    RetryPolicy Retry,
    TimeoutPolicy Timeouts);

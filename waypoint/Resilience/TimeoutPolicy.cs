using Ambient.Config.Routes;

namespace Ambient.Waypoint.Resilience;

/// <summary>
/// A route's timeouts as values: <see cref="Request"/> bounds the whole exchange including retries and backoff,
/// <see cref="PerAttempt"/> each try. Null = no limit.
/// </summary>
public readonly record struct TimeoutPolicy(TimeSpan? Request, TimeSpan? PerAttempt)
{
    /// <summary>Gateway API leaves the default to the implementation; Istio's is no timeout. A written 0s means none.</summary>
    public static TimeoutPolicy From(RouteTimeouts? timeouts) => new(
        timeouts?.Request is { } r && r > TimeSpan.Zero ? r : null,
        timeouts?.BackendRequest is { } b && b > TimeSpan.Zero ? b : null);

    /// <summary>How long the attempt starting at <paramref name="elapsed"/> into the request may take; null = unbounded; zero = out of time.</summary>
    public TimeSpan? AttemptBudget(TimeSpan elapsed)
    {
        TimeSpan? remaining = Request is { } total ? (total > elapsed ? total - elapsed : TimeSpan.Zero) : null;
        if (PerAttempt is not { } each) return remaining;
        return remaining is { } left && left < each ? left : each;
    }
}

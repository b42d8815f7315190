using Ambient.Config.Routes;
using Ambient.Waypoint.Resilience;

namespace Ambient.Waypoint.Routing;

/// <summary>
/// The rule chosen for a request: route, rule (and its index, for logs), the match that won, the rule's backend
/// picker, and its retry and timeout policies (built once with the table, not per request).
/// </summary>
public sealed record HttpRouteSelection(HttpRoute Route, HttpRouteRule Rule, int RuleIndex, HttpRouteMatch Match, WeightedBackendPicker Backends)
{
    public RetryPolicy Retry { get; } = RetryPolicy.From(Rule.Retry);

    public TimeoutPolicy Timeouts { get; } = TimeoutPolicy.From(Rule.Timeouts);

    /// <summary><c>default/reviews#rule1</c> (the rule's name, or its index).</summary>
    public string Describe() => $"{Route.Key}#{Rule.Name ?? RuleIndex.ToString(System.Globalization.CultureInfo.InvariantCulture)}";
}

using Ambient.Config.Routes;

namespace Ambient.Waypoint.Resilience;

/// <summary>What fault injection does to one request: wait <see cref="Delay"/>, then (or instead) abort.</summary>
public readonly record struct FaultDecision(TimeSpan Delay, int? AbortHttpStatus, int? AbortGrpcStatus)
{
    public static FaultDecision None => default;

    public bool Aborts => AbortHttpStatus is not null || AbortGrpcStatus is not null;

    /// <summary>
    /// Rolls each part independently (as Envoy does), delay first. Percentages are 0-100 with fractions;
    /// 100 always fires and 0 never does, whatever the random source says.
    /// </summary>
    public static FaultDecision Decide(FaultInjection? fault, Random random)
    {
        if (fault is null) return None;
        var delay = fault.Delay is { } d && Fires(d.Percentage, random) ? d.FixedDelay : TimeSpan.Zero;
        if (fault.Abort is { } a && Fires(a.Percentage, random)) return new FaultDecision(delay, a.HttpStatus, a.GrpcStatus);
        return new FaultDecision(delay, null, null);
    }

    private static bool Fires(double percentage, Random random) =>
        percentage >= 100 || (percentage > 0 && random.NextDouble() * 100 < percentage);
}

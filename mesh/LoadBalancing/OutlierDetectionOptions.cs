namespace Ambient.LoadBalancing;

/// <summary>
/// Passive outlier ejection: after <see cref="ConsecutiveFailures"/> connect failures in a row an endpoint is ejected
/// for <see cref="BaseEjectionTime"/>, doubled for every further ejection without an intervening success, capped at
/// <see cref="MaxEjectionTime"/>. When the back-off has elapsed the endpoint is half-open: one pick may try it, and
/// that try holds the probe for at most <see cref="ProbeTimeout"/> (so a caller that never reports cannot wedge it).
/// </summary>
public sealed record OutlierDetectionOptions
{
    public static OutlierDetectionOptions Default { get; } = new();

    /// <summary>Consecutive connect failures that eject an admitted endpoint; at least 1.</summary>
    public int ConsecutiveFailures { get; init; } = 3;

    /// <summary>Length of the first ejection.</summary>
    public TimeSpan BaseEjectionTime { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Ceiling of the doubling back-off.</summary>
    public TimeSpan MaxEjectionTime { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>How long a half-open trial is exclusive before another pick may try the endpoint again (the connect timeout).</summary>
    public TimeSpan ProbeTimeout { get; init; } = TimeSpan.FromSeconds(10);

    internal void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(ConsecutiveFailures, 1, nameof(ConsecutiveFailures));
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(BaseEjectionTime, TimeSpan.Zero, nameof(BaseEjectionTime));
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxEjectionTime, BaseEjectionTime, nameof(MaxEjectionTime));
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(ProbeTimeout, TimeSpan.Zero, nameof(ProbeTimeout));
    }

    /// <summary>Back-off of the <paramref name="ejection"/>-th consecutive ejection (1-based): base · 2^(n−1), capped.</summary>
    public TimeSpan EjectionTime(int ejection)
    {
        var time = BaseEjectionTime;
        for (var i = 1; i < ejection && time < MaxEjectionTime; i++) time += time;
        return time < MaxEjectionTime ? time : MaxEjectionTime;
    }
}

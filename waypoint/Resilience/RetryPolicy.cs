using Ambient.Config.Routes;

namespace Ambient.Waypoint.Resilience;

/// <summary>
/// A route's retry behaviour as values. Attempt numbers are 1-based counts of attempts already made: after the
/// first try fails, <c>ShouldRetry(1, ...)</c> decides whether try 2 happens.
/// </summary>
public sealed class RetryPolicy
{
    /// <summary>Istio's defaults when a route sets no retry: 2 retries on connection failures and 503, 25ms base backoff.</summary>
    public static RetryPolicy Default { get; } = new([503], 2, TimeSpan.FromMilliseconds(25));

    public static RetryPolicy None { get; } = new([], 0, TimeSpan.Zero);

    private readonly bool[] _codes = new bool[600];

    public RetryPolicy(IEnumerable<int> codes, int retries, TimeSpan backoff)
    {
        foreach (var code in codes)
        {
            if (code is >= 0 and < 600) _codes[code] = true;
        }
        Retries = retries;
        BaseBackoff = backoff;
    }

    public static RetryPolicy From(RouteRetry? retry) => retry is null
        ? Default
        : new RetryPolicy(retry.Codes, retry.Attempts ?? Default.Retries, retry.Backoff ?? Default.BaseBackoff);

    /// <summary>Retries after the first attempt (0 = never retry).</summary>
    public int Retries { get; }

    public TimeSpan BaseBackoff { get; }

    /// <summary>Whether to try again after <paramref name="attemptsMade"/> attempts, the last answering <paramref name="statusCode"/>.</summary>
    public bool ShouldRetry(int attemptsMade, int statusCode) =>
        attemptsMade <= Retries && statusCode is >= 0 and < 600 && _codes[statusCode];

    /// <summary>Connection failures (refused, reset before a response) are retried whatever the codes.</summary>
    public bool ShouldRetryConnectFailure(int attemptsMade) => attemptsMade <= Retries;

    /// <summary>
    /// Wait before the next attempt: exponential (base · 2^(n−1)) with jitter, uniformly in [exp, 2·exp), capped at
    /// 10 × base as Envoy caps it. Never below the base, which Gateway API defines as the minimum.
    /// </summary>
    public TimeSpan Backoff(int attemptsMade, Random random)
    {
        if (BaseBackoff <= TimeSpan.Zero) return TimeSpan.Zero;
        var cap = BaseBackoff.Ticks * 10;
        var exponent = Math.Clamp(attemptsMade - 1, 0, 30);
        var exp = Math.Min(BaseBackoff.Ticks << Math.Min(exponent, 20), cap);
        var upper = Math.Min(exp * 2, cap);
        return TimeSpan.FromTicks(upper > exp ? exp + random.NextInt64(upper - exp) : exp);
    }
}

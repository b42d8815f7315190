namespace Ambient.Identity;

/// <summary>
/// Exponential backoff: the delay after the n-th consecutive failure is
/// <see cref="Initial"/> × 2^(n-1), capped at <see cref="Max"/>. The default gives
/// 0.5 s, 1 s, 2 s, … 64 s, 128 s, 150 s, 150 s, …
/// </summary>
public sealed record RetryBackoff
{
    public static readonly RetryBackoff Default = new(TimeSpan.FromMilliseconds(500), TimeSpan.FromSeconds(150));

    public RetryBackoff(TimeSpan initial, TimeSpan max)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(initial, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThan(max, initial);
        Initial = initial;
        Max = max;
    }

    public TimeSpan Initial { get; }

    public TimeSpan Max { get; }

    /// <summary>The delay to wait after <paramref name="failures"/> consecutive failures (1-based).</summary>
    public TimeSpan GetDelay(int failures)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(failures, 1);
        // 2^62 ticks overflows long long before it matters; stop doubling once past Max.
        var delay = Initial;
        for (int i = 1; i < failures && delay < Max; i++)
        {
            delay = delay.Ticks > Max.Ticks / 2 ? Max : delay * 2;
        }

        return delay > Max ? Max : delay;
    }
}

namespace Ambient.Discovery.Kubernetes;

/// <summary>
/// Exponential backoff with jitter: the n-th consecutive failure waits a random time in [d/2, d] where
/// d = min(initial * 2^(n-1), max). The jitter keeps every daemon of a cluster from reconnecting to a restarted API
/// server in the same instant. <see cref="Reset"/> after a success.
/// </summary>
internal sealed class Backoff(TimeSpan initial, TimeSpan max)
{
    private int _failures;

    public int Failures => _failures;

    public void Reset() => _failures = 0;

    public TimeSpan Next()
    {
        _failures = Math.Min(_failures + 1, 62);
        var ceiling = initial.TotalMilliseconds * Math.Pow(2, _failures - 1);
        ceiling = Math.Min(ceiling, max.TotalMilliseconds);
        var jittered = ceiling / 2 + Random.Shared.NextDouble() * ceiling / 2;
        return TimeSpan.FromMilliseconds(jittered);
    }
}

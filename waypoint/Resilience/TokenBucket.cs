using Ambient.Config.Routes;

namespace Ambient.Waypoint.Resilience;

/// <summary>
/// Envoy's local rate limit token bucket: starts full; every whole fill interval adds <c>tokensPerFill</c> up to the
/// maximum (in steps, not continuously, as Envoy does). One token per request. The clock is a
/// <see cref="TimeProvider"/> so tests can move time. A tiny lock guards two fields; it is held for a few instructions.
/// </summary>
public sealed class TokenBucket
{
    private readonly Lock _lock = new();
    private readonly TimeProvider _clock;
    private readonly long _intervalTicks;
    private long _tokens;
    private long _lastFill;

    public TokenBucket(LocalRateLimit limit, TimeProvider? clock = null)
    {
        Limit = limit;
        _clock = clock ?? TimeProvider.System;
        // Work in Stopwatch-style timestamps of the provider, converted once.
        _intervalTicks = Math.Max(1, (long)(limit.FillInterval.TotalSeconds * _clock.TimestampFrequency));
        _tokens = limit.MaxTokens;
        _lastFill = _clock.GetTimestamp();
    }

    public LocalRateLimit Limit { get; }

    /// <summary>Takes a token; false means the request is limited (answer <see cref="LocalRateLimit.StatusCode"/>).</summary>
    public bool TryTake()
    {
        var now = _clock.GetTimestamp();
        lock (_lock)
        {
            Refill(now);
            if (_tokens == 0) return false;
            _tokens--;
            return true;
        }
    }

    /// <summary>Tokens available now (for tests and the admin view).</summary>
    public long Available
    {
        get
        {
            var now = _clock.GetTimestamp();
            lock (_lock)
            {
                Refill(now);
                return _tokens;
            }
        }
    }

    private void Refill(long now)
    {
        var fills = (now - _lastFill) / _intervalTicks;
        if (fills <= 0) return;
        _lastFill += fills * _intervalTicks;
        _tokens = Math.Min(Limit.MaxTokens, _tokens + Math.Min(fills, int.MaxValue) * Limit.TokensPerFill);
    }
}

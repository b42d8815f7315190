using System.Collections.Concurrent;
using Ambient.Config.Routes;

namespace Ambient.Waypoint.Resilience;

/// <summary>
/// One <see cref="TokenBucket"/> per route (the <c>ambient.dev/local-rate-limit</c> annotation limits a whole
/// HTTPRoute/GRPCRoute). A bucket survives config reloads while its limit is unchanged, so a reload does not refill
/// it; a changed limit starts a new, full bucket.
/// </summary>
public sealed class TokenBucketRegistry(TimeProvider? clock = null)
{
    private readonly ConcurrentDictionary<string, TokenBucket> _buckets = new(StringComparer.Ordinal);

    /// <summary>The bucket for route <paramref name="routeKey"/> (<c>namespace/name</c>), or null when it has no limit.</summary>
    public TokenBucket? For(string routeKey, LocalRateLimit? limit)
    {
        if (limit is null) return null;
        var bucket = _buckets.GetOrAdd(routeKey, static (_, state) => new TokenBucket(state.limit, state.clock), (limit, clock));
        if (bucket.Limit == limit) return bucket;
        var replacement = new TokenBucket(limit, clock);
        return _buckets.TryUpdate(routeKey, replacement, bucket) ? replacement : _buckets[routeKey];
    }

    /// <summary>Forgets routes that are gone (call after a config update).</summary>
    public void Retain(IReadOnlySet<string> routeKeys)
    {
        foreach (var key in _buckets.Keys)
        {
            if (!routeKeys.Contains(key)) _buckets.TryRemove(key, out _);
        }
    }
}

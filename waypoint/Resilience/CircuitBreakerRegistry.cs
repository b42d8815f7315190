using System.Collections.Concurrent;
using Ambient.Config.Routes;

namespace Ambient.Waypoint.Resilience;

/// <summary>
/// One <see cref="CircuitBreaker"/> per backend service host (FQDN), configured from DestinationRules. Breakers live
/// across config updates so in-flight counts survive a reload; only their limits change.
/// </summary>
public sealed class CircuitBreakerRegistry
{
    private readonly ConcurrentDictionary<string, CircuitBreaker> _breakers = new(StringComparer.OrdinalIgnoreCase);
    private volatile Dictionary<string, ConnectionPoolSettings> _settings = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>Applies a new set of DestinationRules (exact hosts; the first rule for a host wins, like Istio's oldest).</summary>
    public void Update(IReadOnlyList<DestinationRule> rules, string clusterDomain = "cluster.local")
    {
        var settings = new Dictionary<string, ConnectionPoolSettings>(StringComparer.OrdinalIgnoreCase);
        foreach (var rule in rules)
        {
            if (rule.ConnectionPool is { } pool) settings.TryAdd(rule.ResolvedHost(clusterDomain), pool);
        }
        _settings = settings;
        foreach (var (host, breaker) in _breakers)
        {
            breaker.UpdateLimits(settings.GetValueOrDefault(host));
        }
    }

    /// <summary>The breaker for a service FQDN (unlimited when no DestinationRule sets a connection pool).</summary>
    public CircuitBreaker For(string host) =>
        _breakers.GetOrAdd(host, static (h, self) => new CircuitBreaker(self._settings.GetValueOrDefault(h)), this);
}

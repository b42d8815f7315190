using System.Collections.Concurrent;
using System.Collections.Immutable;
using Ambient.Config;
using Ambient.Config.Routes;
using Ambient.Observability.Metrics;
using Ambient.Waypoint.Resilience;
using Ambient.Waypoint.Security;

namespace Ambient.Waypoint.Proxy;

/// <summary>
/// State that outlives config snapshots: the current <see cref="WaypointState"/> (swapped on change), circuit
/// breakers, outlier detectors and rate-limit buckets (their counts survive a reload), JWKS cache, request metrics.
/// </summary>
public sealed class WaypointRuntime
{
    private readonly NamespacedName _waypoint;
    private readonly ConcurrentDictionary<string, (OutlierDetectionSettings? Settings, OutlierDetector Detector)> _outliers = new(StringComparer.OrdinalIgnoreCase);
    private readonly ConcurrentDictionary<string, StrongBox> _inFlight = new(StringComparer.Ordinal);
    private volatile WaypointState _state;

    public WaypointRuntime(ConfigStore config, NamespacedName waypoint, RequestMetrics metrics, JwksCache jwks)
    {
        _waypoint = waypoint;
        Jwks = jwks;
        RequestMetrics = metrics;
        _state = Build(config.Current);
        config.Changed += (_, e) => _state = Build(e.Current);
    }

    public WaypointState State => _state;
    public RequestMetrics RequestMetrics { get; }
    public JwksCache Jwks { get; }
    public CircuitBreakerRegistry CircuitBreakers { get; } = new();
    public TokenBucketRegistry RateLimits { get; } = new();

    private WaypointState Build(MeshSnapshot snapshot)
    {
        CircuitBreakers.Update(snapshot.Config.DestinationRules);
        var routes = new HashSet<string>(StringComparer.Ordinal);
        foreach (var route in snapshot.Config.HttpRoutes) routes.Add(route.Key);
        RateLimits.Retain(routes);
        RequestMetrics.OnConfigChanged();
        RefreshOutliers(snapshot);
        return new WaypointState(snapshot, _waypoint, Jwks);
    }

    /// <summary>
    /// The outlier detector of a service host, with its DestinationRule's settings (Istio's defaults without one).
    /// Endpoints are keyed by workload uid; a new detector learns the current endpoints (maxEjectionPercent's base),
    /// and a config change refreshes them for every detector.
    /// </summary>
    public OutlierDetector OutlierDetectorFor(string host, MeshSnapshot snapshot, System.Collections.Immutable.ImmutableArray<EndpointTarget> endpoints)
    {
        if (_outliers.TryGetValue(host, out var existing)) return existing.Detector;
        var settings = OutlierSettings(snapshot, host);
        var detector = new OutlierDetector(settings ?? new OutlierDetectionSettings());
        var uids = new HashSet<string>(StringComparer.Ordinal);
        foreach (var e in endpoints) uids.Add(e.Workload.Uid);
        detector.UpdateEndpoints(uids);
        return _outliers.GetOrAdd(host, (settings, detector)).Detector;
    }

    private static OutlierDetectionSettings? OutlierSettings(MeshSnapshot snapshot, string host)
    {
        foreach (var rule in snapshot.Config.DestinationRules)
        {
            if (rule.OutlierDetection is { } od && string.Equals(rule.ResolvedHost("cluster.local"), host, StringComparison.OrdinalIgnoreCase))
                return od;
        }
        return null;
    }

    /// <summary>After a config change: new settings start a fresh detector; otherwise only the endpoint set is refreshed.</summary>
    private void RefreshOutliers(MeshSnapshot snapshot)
    {
        foreach (var (host, entry) in _outliers)
        {
            var settings = OutlierSettings(snapshot, host);
            if (!ReferenceEquals(settings, entry.Settings) && !Equals(settings, entry.Settings))
            {
                _outliers.TryRemove(host, out _);
                continue;
            }
            if (snapshot.ServiceByHostname(host) is not { } service) continue;
            var uids = new HashSet<string>(StringComparer.Ordinal);
            foreach (var e in snapshot.EndpointsOf(service)) uids.Add(e.Workload.Uid);
            entry.Detector.UpdateEndpoints(uids);
        }
    }

    /// <summary>Requests in flight to an endpoint (for least-request picks).</summary>
    public long InFlight(EndpointTarget endpoint) => _inFlight.TryGetValue(endpoint.Workload.Uid, out var box) ? Volatile.Read(ref box.Value) : 0;

    public InFlightLease Begin(EndpointTarget endpoint)
    {
        var box = _inFlight.GetOrAdd(endpoint.Workload.Uid, static _ => new StrongBox());
        Interlocked.Increment(ref box.Value);
        return new InFlightLease(box);
    }

    public sealed class StrongBox
    {
        public long Value;
    }

    public readonly struct InFlightLease(StrongBox box) : IDisposable
    {
        public void Dispose() => Interlocked.Decrement(ref box.Value);
    }
}

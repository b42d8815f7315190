using System.Collections.Concurrent;
using Ambient.Config.Routes;

namespace Ambient.Waypoint.Resilience;

/// <summary>
/// Passive L7 outlier detection for the endpoints of one service, with Istio's DestinationRule semantics:
/// <c>consecutive5xxErrors</c> 5xx answers (or connection failures) in a row, or <c>consecutiveGatewayErrors</c>
/// 502/503/504 in a row, eject an endpoint for <c>baseEjectionTime × times ejected</c> (capped at 300 s, Envoy's
/// max_ejection_time). At most <c>maxEjectionPercent</c> of the endpoints are ejected at once, except that one
/// ejection is always allowed (as in Envoy). An ejected endpoint is readmitted when its time is up; the ejection
/// multiplier then decays by one per quiet <c>interval</c>. The clock is injectable.
/// Per-endpoint state has its own tiny lock; the hot path (<see cref="IsEjected"/>) is one dictionary read and a compare.
/// </summary>
public sealed class OutlierDetector
{
    private static readonly TimeSpan MaxEjectionTime = TimeSpan.FromSeconds(300);

    private readonly OutlierDetectionSettings _settings;
    private readonly TimeProvider _clock;
    private readonly ConcurrentDictionary<string, EndpointRecord> _endpoints = new(StringComparer.Ordinal);
    private volatile int _knownEndpoints;

    public OutlierDetector(OutlierDetectionSettings settings, TimeProvider? clock = null)
    {
        _settings = settings;
        _clock = clock ?? TimeProvider.System;
    }

    /// <summary>The service's current endpoints (the denominator of maxEjectionPercent); forgets departed ones.</summary>
    public void UpdateEndpoints(IReadOnlyCollection<string> endpoints)
    {
        _knownEndpoints = endpoints.Count;
        foreach (var key in _endpoints.Keys)
        {
            if (!endpoints.Contains(key)) _endpoints.TryRemove(key, out _);
        }
    }

    public bool IsEjected(string endpoint) =>
        _endpoints.TryGetValue(endpoint, out var record) && record.EjectedUntil(_clock.GetUtcNow()) is not null;

    /// <summary>Records an answer from <paramref name="endpoint"/>; returns true when this answer ejected it.</summary>
    public bool ReportStatus(string endpoint, int statusCode) =>
        statusCode >= 500 ? ReportFailure(endpoint, gateway: statusCode is 502 or 503 or 504) : ReportSuccess(endpoint);

    /// <summary>A connection failure counts as a 5xx and as a gateway error.</summary>
    public bool ReportConnectFailure(string endpoint) => ReportFailure(endpoint, gateway: true);

    private bool ReportSuccess(string endpoint)
    {
        if (_endpoints.TryGetValue(endpoint, out var record)) record.Success();
        return false;
    }

    private bool ReportFailure(string endpoint, bool gateway)
    {
        var record = _endpoints.GetOrAdd(endpoint, static _ => new EndpointRecord());
        var now = _clock.GetUtcNow();
        var (fivexx, gatewayErrors) = record.Failure(gateway);
        var trip = (_settings.Consecutive5xxErrors > 0 && fivexx >= _settings.Consecutive5xxErrors)
                   || (_settings.ConsecutiveGatewayErrors > 0 && gatewayErrors >= _settings.ConsecutiveGatewayErrors);
        if (!trip || !EjectionAllowed(now)) return false;
        return record.Eject(now, _settings.BaseEjectionTime, MaxEjectionTime, _settings.Interval);
    }

    /// <summary>Ejected endpoints + this one must stay within maxEjectionPercent, but the first ejection is always allowed.</summary>
    private bool EjectionAllowed(DateTimeOffset now)
    {
        if (_settings.MaxEjectionPercent <= 0) return false;
        var ejected = 0;
        foreach (var (_, record) in _endpoints)
        {
            if (record.EjectedUntil(now) is not null) ejected++;
        }
        var total = Math.Max(_knownEndpoints, _endpoints.Count);
        return ejected == 0 || (ejected + 1) * 100L <= (long)_settings.MaxEjectionPercent * total;
    }

    /// <summary>Times the endpoint has been ejected without decay (for tests and the admin view).</summary>
    public int EjectionCount(string endpoint) => _endpoints.TryGetValue(endpoint, out var record) ? record.Multiplier : 0;

    private sealed class EndpointRecord
    {
        private readonly Lock _lock = new();
        private int _consecutive5xx;
        private int _consecutiveGateway;
        private DateTimeOffset _ejectedUntil = DateTimeOffset.MinValue;

        public int Multiplier { get; private set; }

        public DateTimeOffset? EjectedUntil(DateTimeOffset now)
        {
            lock (_lock) return now < _ejectedUntil ? _ejectedUntil : null;
        }

        public void Success()
        {
            lock (_lock)
            {
                _consecutive5xx = 0;
                _consecutiveGateway = 0;
            }
        }

        public (int FiveXx, int Gateway) Failure(bool gateway)
        {
            lock (_lock)
            {
                _consecutive5xx++;
                _consecutiveGateway = gateway ? _consecutiveGateway + 1 : 0;
                return (_consecutive5xx, _consecutiveGateway);
            }
        }

        public bool Eject(DateTimeOffset now, TimeSpan baseTime, TimeSpan maxTime, TimeSpan interval)
        {
            lock (_lock)
            {
                if (now < _ejectedUntil) return false; // already ejected (a concurrent report won)
                if (Multiplier > 0 && _ejectedUntil > DateTimeOffset.MinValue && interval > TimeSpan.Zero)
                {
                    // Decay: one step per whole interval the endpoint has been back without being ejected.
                    var quiet = now - _ejectedUntil;
                    Multiplier = (int)Math.Max(0, Multiplier - quiet.Ticks / interval.Ticks);
                }
                Multiplier++;
                var duration = TimeSpan.FromTicks(Math.Min(baseTime.Ticks * Multiplier, maxTime.Ticks));
                _ejectedUntil = now + duration;
                _consecutive5xx = 0;
                _consecutiveGateway = 0;
                return true;
            }
        }
    }
}

using System.Collections.Concurrent;
using Ambient.Config;

namespace Ambient.LoadBalancing;

/// <summary>
/// The daemon-wide table of <see cref="EndpointHealth"/>, keyed by <see cref="EndpointKey"/>. Lookups are lock-free
/// and allocation-free; an entry is created the first time an endpoint is leased or fails (never by a pick), and
/// dropped by <see cref="Retain(MeshSnapshot)"/> once its endpoint has left the config and its last connection closed.
/// </summary>
public sealed class EndpointHealthRegistry
{
    private readonly ConcurrentDictionary<EndpointKey, EndpointHealth> _entries = new();
    private int _notAdmitted;

    public EndpointHealthRegistry(OutlierDetectionOptions? options = null, TimeProvider? time = null)
    {
        Options = options ?? OutlierDetectionOptions.Default;
        Options.Validate();
        Time = time ?? TimeProvider.System;
        ProbeTicks = ToTimestampTicks(Options.ProbeTimeout);
    }

    public OutlierDetectionOptions Options { get; }

    public TimeProvider Time { get; }

    internal long ProbeTicks { get; }

    /// <summary>Entries held (for metrics and tests).</summary>
    public int Count => _entries.Count;

    /// <summary>Entries that are ejected or half-open. When zero, picks skip health lookups entirely.</summary>
    public int NotAdmittedCount => Volatile.Read(ref _notAdmitted);

    /// <summary>The entry for <paramref name="endpoint"/>, or null when it has never been leased or failed.</summary>
    public EndpointHealth? Find(in EndpointTarget endpoint) => Find(EndpointKey.Of(endpoint));

    public EndpointHealth? Find(EndpointKey key) => _entries.TryGetValue(key, out var health) ? health : null;

    /// <summary>The entry for <paramref name="endpoint"/>, created on first use.</summary>
    public EndpointHealth Get(in EndpointTarget endpoint) => Get(EndpointKey.Of(endpoint));

    public EndpointHealth Get(EndpointKey key) =>
        _entries.TryGetValue(key, out var health)
            ? health
            : _entries.GetOrAdd(key, static (k, owner) => new EndpointHealth(owner, k), this);

    /// <summary>Open connections to <paramref name="endpoint"/> (0 when unknown). Lock-free.</summary>
    public int OpenConnections(in EndpointTarget endpoint) => Find(endpoint)?.OpenConnections ?? 0;

    /// <summary>Counts one connection to <paramref name="endpoint"/> until the lease is disposed.</summary>
    public ConnectionLease Lease(in EndpointTarget endpoint) => Get(endpoint).Lease();

    /// <summary>See <see cref="EndpointHealth.ReportSuccess"/>. Nothing to record for an endpoint never seen failing.</summary>
    public void ReportSuccess(in EndpointTarget endpoint) => Find(endpoint)?.ReportSuccess();

    /// <summary>See <see cref="EndpointHealth.ReportFailure"/>.</summary>
    public void ReportFailure(in EndpointTarget endpoint) => Get(endpoint).ReportFailure();

    /// <summary>
    /// Drops entries whose endpoint (workload uid + target port) is no longer an endpoint of any service port in
    /// <paramref name="snapshot"/> and that have no open connection (those go on a later call). Call it on every
    /// config change (<see cref="ConfigStore.Changed"/>). Returns how many entries were dropped.
    /// </summary>
    public int Retain(MeshSnapshot snapshot)
    {
        var live = new HashSet<EndpointKey>();
        foreach (var service in snapshot.Config.Services)
        {
            foreach (var port in service.Ports.Keys)
            {
                foreach (var endpoint in snapshot.EndpointsOf(service, port))
                    live.Add(EndpointKey.Of(endpoint));
            }
        }
        return Retain(live.Contains);
    }

    /// <summary>Drops entries for which <paramref name="keep"/> is false and that have no open connection.</summary>
    public int Retain(Func<EndpointKey, bool> keep)
    {
        var dropped = 0;
        foreach (var (key, health) in _entries)
        {
            if (!keep(key) && health.TryRetire(_entries)) dropped++;
        }
        return dropped;
    }

    internal void OnEjected() => Interlocked.Increment(ref _notAdmitted);

    internal void OnReadmitted() => Interlocked.Decrement(ref _notAdmitted);

    internal long ToTimestampTicks(TimeSpan span) =>
        (long)Math.Ceiling(span.Ticks * ((double)Time.TimestampFrequency / TimeSpan.TicksPerSecond));
}

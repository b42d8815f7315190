using Ambient.Config;
using Ambient.Identity;
using Ambient.Observability.Metrics;
using Prometheus;

namespace Ambient.Daemon.Telemetry;

/// <summary>
/// Everything the daemon exposes on <c>:15020/metrics</c>: Istio's TCP metrics per connection, and the daemon's
/// own health (open connections, HBONE pool, certificate expiry, config generation and errors) read at scrape time.
/// A registry of its own: nothing is collected that is not listed here (plus process CPU and memory).
/// </summary>
public sealed class DaemonMetrics
{
    private readonly Gauge _activeConnections;
    private readonly Gauge _poolConnections;
    private readonly Gauge _certificateExpiry;
    private readonly Gauge _configGeneration;
    private readonly Gauge _rejectedObjects;
    private readonly Counter _configErrors;
    private readonly Counter _policyClosed;
    private long _active;

    static DaemonMetrics() => MetricsDefaults.Suppress();

    public DaemonMetrics(string cluster = "Kubernetes")
    {
        Registry = Metrics.NewCustomRegistry();
        var factory = Metrics.WithCustomRegistry(Registry);
        Tcp = new TcpMetrics(factory, cluster);
        _activeConnections = factory.CreateGauge("ambient_active_connections", "Connections the daemon is carrying now (both directions)");
        _poolConnections = factory.CreateGauge("ambient_hbone_pool_connections", "Pooled outbound HBONE (mTLS HTTP/2) connections");
        _certificateExpiry = factory.CreateGauge("ambient_certificate_expiry_timestamp_seconds", "When each workload certificate held by the daemon expires (Unix time)", "identity");
        _configGeneration = factory.CreateGauge("ambient_config_generation", "Generation of the config snapshot in use", "source");
        _rejectedObjects = factory.CreateGauge("ambient_config_rejected_objects", "Objects of the current config left out because they are invalid", "source");
        _configErrors = factory.CreateCounter("ambient_config_errors_total", "Config problems reported by a source (an invalid object, a broken file)", "source");
        _policyClosed = factory.CreateCounter("ambient_policy_closed_connections_total", "Open connections closed because a policy change no longer allows them");
        DotNetStats.Register(Registry);
    }

    public CollectorRegistry Registry { get; }

    public TcpMetrics Tcp { get; }

    /// <summary>Connections being carried now (what a drain waits for).</summary>
    public long ActiveConnections => Interlocked.Read(ref _active);

    /// <summary>Starts the series of one connection; dispose the meter when the connection ends.</summary>
    public ConnectionMeter Connection(in TcpConnectionKey key, bool forwardIsRequest) =>
        new(this, Tcp.For(key), forwardIsRequest, key.Flags != ResponseFlags.None);

    internal void ConnectionOpened() => Interlocked.Increment(ref _active);

    internal void ConnectionClosed() => Interlocked.Decrement(ref _active);

    public void ConfigErrors(string source, int count)
    {
        if (count > 0) _configErrors.WithLabels(source).Inc(count);
    }

    public void ConnectionsClosedByPolicy(int count)
    {
        if (count > 0) _policyClosed.Inc(count);
    }

    /// <summary>Reads the daemon's state into the health gauges just before each scrape.</summary>
    public void ObserveAtScrape(Func<MeshSnapshot> snapshot, string source, Func<int> rejectedObjects, Func<int> poolConnections, CertificateManager certificates)
    {
        Registry.AddBeforeCollectCallback(() =>
        {
            _activeConnections.Set(Interlocked.Read(ref _active));
            _poolConnections.Set(poolConnections());
            var current = snapshot();
            _configGeneration.WithLabels(source).Set(current.Generation);
            _rejectedObjects.WithLabels(source).Set(rejectedObjects());
            foreach (var id in certificates.Identities)
            {
                if (certificates.TryGetCurrent(id, out var certificate))
                    _certificateExpiry.WithLabels(id.ToString()).Set(certificate.NotAfter.ToUnixTimeSeconds());
            }
        });
    }
}

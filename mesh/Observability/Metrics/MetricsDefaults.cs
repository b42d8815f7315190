using Prometheus;

namespace Ambient.Observability.Metrics;

/// <summary>
/// prometheus-net's static default registry starts EventCounter and Meter listeners for the .NET runtime on first
/// touch (background work for metrics nobody exports: we serve registries of our own). Turn them off once, before
/// any registry is created. (Measured: it does not change the daemon's idle RSS.)
/// </summary>
public static class MetricsDefaults
{
    private static int _done;

    public static void Suppress()
    {
        if (Interlocked.Exchange(ref _done, 1) == 0) Prometheus.Metrics.SuppressDefaultMetrics();
    }
}

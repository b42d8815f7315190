using Prometheus;

namespace Ambient.Observability.Metrics;

/// <summary>
/// prometheus-net's static default registry starts EventCounter and Meter listeners for the .NET runtime on first
/// touch; they cost an idle node proxy about 20 MB and we export from registries of our own. Turn them off once,
/// before any registry is created.
/// </summary>
public static class MetricsDefaults
{
    private static int _done;

    public static void Suppress()
    {
        if (Interlocked.Exchange(ref _done, 1) == 0) Prometheus.Metrics.SuppressDefaultMetrics();
    }
}

using Ambient.Harness.Load;

namespace Ambient.Harness.Measure;

/// <summary>A measured quantity: its key in the result set, how the report names and formats it, and which way is better.</summary>
public sealed record Metric(string Key, string Title, string Unit, bool HigherIsBetter, string Format = "N0");

/// <summary>Every metric the harness records, so measurement and report agree on names and units.</summary>
public static class Metrics
{
    public static readonly double[] Percentiles = [50, 90, 99, 99.9];

    public static readonly Metric Throughput1 = new("tput-1", "throughput, 1 stream", "Gbit/s", true, "N2");
    public static readonly Metric Throughput8 = new("tput-8", "throughput, 8 streams", "Gbit/s", true, "N2");
    public static readonly Metric CpuPerGb1 = new("cpu-gb-1", "proxy CPU per GB, 1 stream", "CPU s/GB", false, "N2");
    public static readonly Metric CpuPerGb8 = new("cpu-gb-8", "proxy CPU per GB, 8 streams", "CPU s/GB", false, "N2");
    public static readonly Metric ConnectionRate = new("conn-rate", "new connections per second", "conn/s", true);
    public static readonly Metric CpuPerThousandConnections = new("cpu-1k-conn", "proxy CPU per 1,000 connections", "CPU ms", false, "N1");
    public static readonly Metric IdleBytesPerConnection = new("idle-conn", "proxy memory per idle connection", "KiB", false, "N1");
    public static readonly Metric IdleConnectionsArrived = new("idle-arrived", "idle connections that reached the server", "conns", true);
    public static readonly Metric IdleRss = new("idle-rss", "proxy RSS at rest", "MiB", false, "N1");
    public static readonly Metric IdleCpu = new("idle-cpu", "proxy CPU at rest", "% of a core", false, "N1");
    public static readonly Metric PeakRss = new("peak-rss", "proxy peak RSS (VmHWM, whole run)", "MiB", false, "N1");

    public static Metric Latency(int rate, double percentile) =>
        new($"lat-{rate}-p{percentile}", $"p{percentile} at {rate:N0} rps", "µs", false);

    public static Metric AchievedRate(int rate) => new($"rate-{rate}", $"achieved rate (target {rate:N0})", "req/s", true);
    public static Metric CpuPerThousandRequests(int rate) => new($"cpu-1k-{rate}", $"proxy CPU per 1,000 requests at {rate:N0} rps", "CPU ms", false, "N1");
    public static Metric LoadRss(int rate) => new($"rss-{rate}", $"proxy max RSS under {rate:N0} rps", "MiB", false, "N1");
    public static Metric Errors(int rate) => new($"errors-{rate}", $"errors + unfinished at {rate:N0} rps", "requests", false);

    // Full load (h2load, closed loop) of the L7 configurations, per protocol.
    public static Metric FullLoadRate(WireProtocol p) => new($"full-{p.Key()}-rate", $"{p.Label()} requests/s at full load", "req/s", true);
    public static Metric FullLoadLatency(WireProtocol p, double percentile) =>
        new($"full-{p.Key()}-p{percentile}", $"{p.Label()} request time p{percentile} at full load", "µs", false);
    public static Metric FullLoadCpuPerThousandRequests(WireProtocol p) =>
        new($"full-{p.Key()}-cpu-1k", $"{p.Label()} proxy CPU per 1,000 requests at full load", "CPU ms", false, "N1");
    public static Metric FullLoadFailed(WireProtocol p) => new($"full-{p.Key()}-failed", $"{p.Label()} failed requests at full load", "requests", false);

    public static readonly Metric DaemonStartMs = new("start-ms", "daemon start to listening", "ms", false);
    public static readonly Metric DaemonIdleRss = new("start-rss", "daemon RSS idle, no pods", "MiB", false, "N1");
}

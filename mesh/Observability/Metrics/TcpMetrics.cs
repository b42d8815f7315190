using System.Collections.Concurrent;
using Ambient.Config;
using Prometheus;

namespace Ambient.Observability.Metrics;

/// <summary>Which proxy reports a connection: Istio's <c>reporter</c> label.</summary>
public enum Reporter { Source, Destination }

/// <summary>
/// Istio's <c>response_flags</c> for TCP: <c>-</c> when the connection was carried, <c>DENY</c> when authorization
/// refused it, <c>CONNECT</c> when the far side could not be reached (no endpoint, connect failure).
/// </summary>
public enum ResponseFlags { None, Deny, Connect }

/// <summary>
/// Who a connection was between, by reference to config objects that already hold every string a label needs, so
/// keying the series cache costs no allocation. <see cref="SourcePrincipal"/> overrides the source workload's
/// identity with what mTLS proved (or null for plaintext).
/// </summary>
public readonly record struct TcpConnectionKey(
    Reporter Reporter,
    Workload? Source,
    string? SourcePrincipal,
    Workload? Destination,
    Service? DestinationService,
    ResponseFlags Flags,
    bool MutualTls);

/// <summary>The five counters of one label set; handed to a connection so it never looks labels up again.</summary>
public sealed class TcpSeries(Counter.Child opened, Counter.Child closed, Counter.Child sent, Counter.Child received, Counter.Child failed)
{
    public Counter.Child Opened { get; } = opened;
    public Counter.Child Closed { get; } = closed;
    /// <summary>Response bytes (destination → source), Istio's <c>istio_tcp_sent_bytes_total</c>.</summary>
    public Counter.Child Sent { get; } = sent;
    /// <summary>Request bytes (source → destination), Istio's <c>istio_tcp_received_bytes_total</c>.</summary>
    public Counter.Child Received { get; } = received;
    public Counter.Child Failed { get; } = failed;
}

/// <summary>
/// Istio's standard TCP metrics (<c>istio_tcp_*</c>) with its label names. The label strings of a (reporter, source,
/// destination, service, flags) combination are built once and the series cached: a connection costs a dictionary
/// lookup on references, not a label array. The cache is cleared when the config changes (labels may have).
/// </summary>
public sealed class TcpMetrics
{
    public static readonly string[] LabelNames =
        ["reporter", .. IstioLabels.PeerLabelNames, "request_protocol", "response_flags", "connection_security_policy"];

    private readonly Counter _opened, _closed, _sent, _received, _failed;
    private readonly string _cluster;
    private ConcurrentDictionary<TcpConnectionKey, TcpSeries> _series = new(KeyComparer.Instance);

    public TcpMetrics(MetricFactory factory, string cluster = "Kubernetes")
    {
        _cluster = cluster;
        _opened = factory.CreateCounter("istio_tcp_connections_opened_total", "Total TCP connections opened", LabelNames);
        _closed = factory.CreateCounter("istio_tcp_connections_closed_total", "Total TCP connections closed", LabelNames);
        _sent = factory.CreateCounter("istio_tcp_sent_bytes_total", "Total bytes sent during response in case of a TCP connection", LabelNames);
        _received = factory.CreateCounter("istio_tcp_received_bytes_total", "Total bytes received during request in case of a TCP connection", LabelNames);
        _failed = factory.CreateCounter("istio_tcp_connections_failed_total", "Total TCP connections that failed (denied, or the destination unreachable)", LabelNames);
    }

    /// <summary>The counters for one connection's labels (built on first use of the combination).</summary>
    public TcpSeries For(in TcpConnectionKey key) =>
        _series.TryGetValue(key, out var series) ? series : _series.GetOrAdd(key, Create);

    /// <summary>Forgets cached label sets (the counters themselves keep their values).</summary>
    public void OnConfigChanged() => _series = new ConcurrentDictionary<TcpConnectionKey, TcpSeries>(KeyComparer.Instance);

    /// <summary>Config objects compared by reference: records would hash every field on each lookup.</summary>
    private sealed class KeyComparer : IEqualityComparer<TcpConnectionKey>
    {
        public static readonly KeyComparer Instance = new();

        public bool Equals(TcpConnectionKey a, TcpConnectionKey b) =>
            a.Reporter == b.Reporter && a.Flags == b.Flags && a.MutualTls == b.MutualTls
            && ReferenceEquals(a.Source, b.Source) && ReferenceEquals(a.Destination, b.Destination)
            && ReferenceEquals(a.DestinationService, b.DestinationService)
            && string.Equals(a.SourcePrincipal, b.SourcePrincipal, StringComparison.Ordinal);

        public int GetHashCode(TcpConnectionKey k) => HashCode.Combine(
            (int)k.Reporter * 8 + (int)k.Flags * 2 + (k.MutualTls ? 1 : 0),
            System.Runtime.CompilerServices.RuntimeHelpers.GetHashCode(k.Source),
            System.Runtime.CompilerServices.RuntimeHelpers.GetHashCode(k.Destination),
            System.Runtime.CompilerServices.RuntimeHelpers.GetHashCode(k.DestinationService),
            k.SourcePrincipal is null ? 0 : string.GetHashCode(k.SourcePrincipal, StringComparison.Ordinal));
    }

    public static string FlagText(ResponseFlags flags) => flags switch
    {
        ResponseFlags.Deny => "DENY",
        ResponseFlags.Connect => "CONNECT",
        _ => "-",
    };

    private TcpSeries Create(TcpConnectionKey key)
    {
        var labels = Labels(key);
        return new TcpSeries(_opened.WithLabels(labels), _closed.WithLabels(labels), _sent.WithLabels(labels),
            _received.WithLabels(labels), _failed.WithLabels(labels));
    }

    internal string[] Labels(in TcpConnectionKey key)
    {
        var labels = new string[LabelNames.Length];
        labels[0] = key.Reporter == Reporter.Source ? "source" : "destination";
        IstioLabels.WritePeers(labels, 1, key.Source, key.SourcePrincipal, key.Destination, key.DestinationService, key.MutualTls, _cluster);
        int n = 1 + IstioLabels.PeerLabelNames.Length;
        labels[n] = "tcp";
        labels[n + 1] = FlagText(key.Flags);
        labels[n + 2] = key.MutualTls ? "mutual_tls" : IstioLabels.Unknown;
        return labels;
    }
}

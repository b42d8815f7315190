using System.Collections.Concurrent;
using Ambient.Config;
using Prometheus;

namespace Ambient.Observability.Metrics;

/// <summary>
/// The labels of one request that are not text already: who called whom, and how it ended. <see cref="Flags"/> is
/// Envoy's response_flags (<c>-</c>, <c>UO</c> overflow, <c>URX</c> retries exhausted, <c>UT</c> timeout, <c>UF</c>
/// connect failure, <c>FI</c>/<c>DI</c> injected fault, <c>RL</c> rate limited, <c>UAEX</c> unauthorized).
/// </summary>
public readonly record struct RequestKey(
    Workload? Source,
    string? SourcePrincipal,
    Workload? Destination,
    Service? DestinationService,
    int ResponseCode,
    string Flags,
    bool Grpc,
    string? GrpcStatus);

/// <summary>The series of one label set: a request counter and three histograms.</summary>
public sealed class RequestSeries(Counter.Child requests, Histogram.Child duration, Histogram.Child requestBytes, Histogram.Child responseBytes)
{
    public Counter.Child Requests { get; } = requests;
    public Histogram.Child DurationMilliseconds { get; } = duration;
    public Histogram.Child RequestBytes { get; } = requestBytes;
    public Histogram.Child ResponseBytes { get; } = responseBytes;
}

/// <summary>
/// Istio's standard HTTP/gRPC metrics as the waypoint reports them (<c>reporter="waypoint"</c>):
/// <c>istio_requests_total</c>, <c>istio_request_duration_milliseconds</c>, <c>istio_request_bytes</c>,
/// <c>istio_response_bytes</c>. Label sets are cached per key (config objects by reference), cleared on config change.
/// </summary>
public sealed class RequestMetrics
{
    public static readonly string[] LabelNames =
        ["reporter", .. IstioLabels.PeerLabelNames, "request_protocol", "response_code", "grpc_response_status", "response_flags", "connection_security_policy"];

    // Istio's default buckets (milliseconds) and Envoy's byte buckets.
    private static readonly double[] DurationBuckets = [0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000];
    private static readonly double[] ByteBuckets = [1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000];

    private readonly Counter _requests;
    private readonly Histogram _duration, _requestBytes, _responseBytes;
    private readonly string _reporter, _cluster;
    private ConcurrentDictionary<RequestKey, RequestSeries> _series = new(KeyComparer.Instance);

    public RequestMetrics(MetricFactory factory, string reporter = "waypoint", string cluster = "Kubernetes")
    {
        _reporter = reporter;
        _cluster = cluster;
        _requests = factory.CreateCounter("istio_requests_total", "Requests processed", LabelNames);
        _duration = factory.CreateHistogram("istio_request_duration_milliseconds", "Request duration", LabelNames, new HistogramConfiguration { Buckets = DurationBuckets });
        _requestBytes = factory.CreateHistogram("istio_request_bytes", "Request body sizes", LabelNames, new HistogramConfiguration { Buckets = ByteBuckets });
        _responseBytes = factory.CreateHistogram("istio_response_bytes", "Response body sizes", LabelNames, new HistogramConfiguration { Buckets = ByteBuckets });
    }

    public RequestSeries For(in RequestKey key) =>
        _series.TryGetValue(key, out var series) ? series : _series.GetOrAdd(key, Create);

    public void OnConfigChanged() => _series = new ConcurrentDictionary<RequestKey, RequestSeries>(KeyComparer.Instance);

    private RequestSeries Create(RequestKey key)
    {
        var labels = new string[LabelNames.Length];
        labels[0] = _reporter;
        IstioLabels.WritePeers(labels, 1, key.Source, key.SourcePrincipal, key.Destination, key.DestinationService, mutualTls: true, _cluster);
        int n = 1 + IstioLabels.PeerLabelNames.Length;
        labels[n] = key.Grpc ? "grpc" : "http";
        labels[n + 1] = key.ResponseCode.ToString(System.Globalization.CultureInfo.InvariantCulture);
        labels[n + 2] = key.GrpcStatus ?? "";
        labels[n + 3] = key.Flags;
        labels[n + 4] = "mutual_tls";
        return new RequestSeries(_requests.WithLabels(labels), _duration.WithLabels(labels), _requestBytes.WithLabels(labels), _responseBytes.WithLabels(labels));
    }

    private sealed class KeyComparer : IEqualityComparer<RequestKey>
    {
        public static readonly KeyComparer Instance = new();

        public bool Equals(RequestKey a, RequestKey b) =>
            a.ResponseCode == b.ResponseCode && a.Grpc == b.Grpc
            && ReferenceEquals(a.Source, b.Source) && ReferenceEquals(a.Destination, b.Destination)
            && ReferenceEquals(a.DestinationService, b.DestinationService)
            && string.Equals(a.SourcePrincipal, b.SourcePrincipal, StringComparison.Ordinal)
            && string.Equals(a.Flags, b.Flags, StringComparison.Ordinal)
            && string.Equals(a.GrpcStatus, b.GrpcStatus, StringComparison.Ordinal);

        public int GetHashCode(RequestKey k) => HashCode.Combine(
            k.ResponseCode,
            System.Runtime.CompilerServices.RuntimeHelpers.GetHashCode(k.Source),
            System.Runtime.CompilerServices.RuntimeHelpers.GetHashCode(k.Destination),
            System.Runtime.CompilerServices.RuntimeHelpers.GetHashCode(k.DestinationService),
            k.SourcePrincipal is null ? 0 : string.GetHashCode(k.SourcePrincipal, StringComparison.Ordinal),
            string.GetHashCode(k.Flags, StringComparison.Ordinal));
    }
}

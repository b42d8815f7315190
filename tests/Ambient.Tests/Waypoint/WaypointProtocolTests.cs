using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Text;
using Ambient.Tests.Support;
using Grpc.Core;
using Grpc.Net.Client;

namespace Ambient.Tests.Waypoint;

/// <summary>
/// What passes through a real waypoint unchanged: gRPC unary and server-streaming calls (Grpc.Net.Client), a
/// WebSocket echo, W3C trace context; and what it reports: Istio's request metrics.
/// </summary>
[Collection("waypoint-bed")]
public sealed class WaypointProtocolTests(WaypointBed bed) : IAsyncLifetime
{
    // A gRPC method described by hand (no generated code): UTF-8 strings as messages.
    private static readonly Marshaller<string> Utf8 = Marshallers.Create(Encoding.UTF8.GetBytes, Encoding.UTF8.GetString);
    private static readonly Method<string, string> Unary = new(MethodType.Unary, "test.Echo", "Unary", Utf8, Utf8);
    private static readonly Method<string, string> Stream = new(MethodType.ServerStreaming, "test.Echo", "Stream", Utf8, Utf8);

    private static readonly string Yaml = """
        grpcRoutes:
          - metadata: {name: echo, namespace: default}
            spec:
              parentRefs: [{group: "", kind: Service, name: reviews, port: 90}]
              rules:
                - matches: [{method: {service: test.Echo}}]
                  backendRefs: [{name: reviews-v2, port: 90}]

        """;

    public Task InitializeAsync() => bed.ApplyAsync(Yaml);

    public Task DisposeAsync() => Task.CompletedTask;

    private GrpcChannel Channel() =>
        GrpcChannel.ForAddress($"http://{bed.ReviewsVip}:90", new GrpcChannelOptions { HttpHandler = WaypointBed.Handler(bed.Sleep) });

    [Fact]
    public async Task Grpc_unary_and_server_streaming_calls_pass_through_and_follow_the_GRPCRoute()
    {
        using var channel = Channel();
        var invoker = channel.CreateCallInvoker();
        var answer = await invoker.AsyncUnaryCall(Unary, null, new CallOptions(), "hello");
        Assert.Equal("v2:hello", answer); // the GRPCRoute sends test.Echo to v2 only

        using var call = invoker.AsyncServerStreamingCall(Stream, null, new CallOptions(), "many");
        var received = new List<string>();
        await foreach (var message in call.ResponseStream.ReadAllAsync()) received.Add(message);
        Assert.Equal(["v2:many:0", "v2:many:1", "v2:many:2", "v2:many:3", "v2:many:4"], received);
        Assert.Equal(StatusCode.OK, call.GetStatus().StatusCode);
    }

    [Fact]
    public async Task A_websocket_echo_passes_through()
    {
        using var socket = new ClientWebSocket();
        using var invoker = new HttpMessageInvoker(WaypointBed.Handler(bed.Sleep));
        await socket.ConnectAsync(new Uri($"ws://{bed.ReviewsVip}/ws"), invoker, CancellationToken.None);
        var buffer = new byte[300_000];
        foreach (var size in new[] { 5, 200_000 })
        {
            var message = new byte[size];
            Random.Shared.NextBytes(message);
            await socket.SendAsync(message, WebSocketMessageType.Binary, true, CancellationToken.None);
            int total = 0;
            ValueWebSocketReceiveResult result;
            do
            {
                result = await socket.ReceiveAsync(buffer.AsMemory(total), CancellationToken.None);
                total += result.Count;
            } while (!result.EndOfMessage);
            Assert.Equal(message, buffer[..total]);
        }
        await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "done", CancellationToken.None);
        Assert.Equal(WebSocketCloseStatus.NormalClosure, socket.CloseStatus);
    }

    [Fact]
    public async Task Trace_context_is_continued_to_the_application()
    {
        using var client = bed.Client(bed.Sleep);
        const string traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
        using var request = new HttpRequestMessage(HttpMethod.Get, "/headers");
        request.Headers.Add("traceparent", $"00-{traceId}-00f067aa0ba902b7-01");
        using var response = await client.SendAsync(request);
        var headers = await response.Content.ReadAsStringAsync();
        var traceparent = headers.Split('\n').Single(l => l.StartsWith("traceparent: ", StringComparison.Ordinal))["traceparent: ".Length..];
        var parts = traceparent.Split('-');
        Assert.Equal(traceId, parts[1]);               // same trace
        Assert.NotEqual("00f067aa0ba902b7", parts[2]); // the waypoint's own span is the parent now
    }

    [Fact]
    public async Task Spans_are_exported_over_OTLP_in_the_callers_trace()
    {
        using var client = bed.Client(bed.Sleep);
        var traceId = ActivityTraceId.CreateRandom();
        using var request = new HttpRequestMessage(HttpMethod.Get, "/");
        request.Headers.Add("traceparent", $"00-{traceId}-00f067aa0ba902b7-01");
        using var response = await client.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);

        var idBytes = Convert.FromHexString(traceId.ToHexString());
        byte[]? export = null;
        for (int i = 0; i < 100 && export is null; i++)
        {
            export = bed.Collector.Exports.FirstOrDefault(e => e.AsSpan().IndexOf(idBytes) >= 0);
            if (export is null) await Task.Delay(100);
        }
        Assert.True(export is not null, $"no span of trace {traceId} reached the collector in 10 s ({bed.Collector.Exports.Count} exports)");
        Assert.True(export.AsSpan().IndexOf("ambient-waypoint"u8) >= 0, "the export names the service ambient-waypoint");
        Assert.True(export.AsSpan().IndexOf(Convert.FromHexString("00f067aa0ba902b7")) >= 0, "a span has the caller's span as its parent");
    }

    [Fact]
    public async Task Requests_are_counted_with_istio_names_and_labels()
    {
        (string, string)[] common = [("reporter", "waypoint"), ("source_workload", "sleep"), ("source_principal", WaypointBed.Identity(bed.Sleep)),
            ("destination_service", "reviews.default.svc.cluster.local"), ("request_protocol", "http"), ("connection_security_policy", "mutual_tls")];
        // The waypoint serves every test of the bed: compare against what it had counted before.
        var before = PrometheusText.Parse(await bed.ScrapeMetricsAsync());
        using var client = bed.Client(bed.Sleep);
        for (int i = 0; i < 3; i++) await client.GetAsync("/");
        await client.GetAsync("/fail");
        // A chunked body both ways (no Content-Length): the bytes are still counted.
        using (var post = new HttpRequestMessage(HttpMethod.Post, "/echo-digest") { Content = new ByteArrayContent(new byte[1000]) })
        {
            post.Headers.TransferEncodingChunked = true;
            using var posted = await client.SendAsync(post);
            Assert.Equal(HttpStatusCode.OK, posted.StatusCode);
            Assert.Equal(69, (await posted.Content.ReadAsStringAsync()).Length); // "1000:" and a SHA-256 in hex
        }
        using (var chunked = await client.GetAsync("/chunked"))
        {
            Assert.True(chunked.Headers.TransferEncodingChunked, "the answer came without Content-Length");
            Assert.Equal(4, (await chunked.Content.ReadAsStringAsync()).Length);
        }
        var after = PrometheusText.Parse(await bed.ScrapeMetricsAsync());
        double Delta(string name, (string, string)[] labels) => PrometheusText.Sum(after, name, labels) - PrometheusText.Sum(before, name, labels);
        Assert.Equal(5, Delta("istio_requests_total", [.. common, ("response_code", "200")]));
        Assert.Equal(1, Delta("istio_requests_total", [.. common, ("response_code", "500")]));
        Assert.Equal(6, Delta("istio_request_duration_milliseconds_count", common));
        Assert.Equal(6, Delta("istio_request_bytes_count", common));
        Assert.Equal(6, Delta("istio_response_bytes_count", common));
        Assert.Equal(1000, Delta("istio_request_bytes_sum", common));
        Assert.Equal(3 * 2 + 69 + 4, Delta("istio_response_bytes_sum", [.. common, ("response_code", "200")])); // "v1"/"v2" thrice, the digest, the chunks
        Assert.Equal(0, Delta("istio_response_bytes_sum", [.. common, ("response_code", "500")]));
        Assert.Contains(after, s => s.Name == "istio_requests_total" && s.Labels["destination_workload"] is "reviews-v1" or "reviews-v2");
        Assert.Contains(after, s => s.Name == "istio_requests_total" && s.Labels["destination_principal"] == WaypointBed.Identity(bed.ReviewsV1));
    }
}

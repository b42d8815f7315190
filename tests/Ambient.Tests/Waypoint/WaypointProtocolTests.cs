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
public sealed class WaypointProtocolTests : IAsyncLifetime
{
    private WaypointMesh _mesh = null!;

    // A gRPC method described by hand (no generated code): UTF-8 strings as messages.
    private static readonly Marshaller<string> Utf8 = Marshallers.Create(Encoding.UTF8.GetBytes, Encoding.UTF8.GetString);
    private static readonly Method<string, string> Unary = new(MethodType.Unary, "test.Echo", "Unary", Utf8, Utf8);
    private static readonly Method<string, string> Stream = new(MethodType.ServerStreaming, "test.Echo", "Stream", Utf8, Utf8);

    public async Task InitializeAsync() => _mesh = await WaypointMesh.StartAsync("""
        grpcRoutes:
          - metadata: {name: echo, namespace: default}
            spec:
              parentRefs: [{group: "", kind: Service, name: reviews, port: 90}]
              rules:
                - matches: [{method: {service: test.Echo}}]
                  backendRefs: [{name: reviews-v2, port: 90}]

        """);

    public async Task DisposeAsync() => await _mesh.DisposeAsync();

    private GrpcChannel Channel()
    {
        var handler = new SocketsHttpHandler
        {
            ConnectCallback = async (context, ct) =>
            {
                var socket = await Socks5Client.ConnectAsync(_mesh.Sleep.Socks5, new IPEndPoint(_mesh.ReviewsVip, 90), ct);
                return new NetworkStream(socket, ownsSocket: true);
            },
        };
        return GrpcChannel.ForAddress($"http://{_mesh.ReviewsVip}:90", new GrpcChannelOptions { HttpHandler = handler });
    }

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
        var invoker = new HttpMessageInvoker(new SocketsHttpHandler
        {
            ConnectCallback = async (context, ct) =>
                new NetworkStream(await Socks5Client.ConnectAsync(_mesh.Sleep.Socks5, new IPEndPoint(_mesh.ReviewsVip, 80), ct), ownsSocket: true),
        });
        await socket.ConnectAsync(new Uri($"ws://{_mesh.ReviewsVip}/ws"), invoker, CancellationToken.None);
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
        using var client = _mesh.Client(_mesh.Sleep);
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
    public async Task Requests_are_counted_with_istio_names_and_labels()
    {
        using var client = _mesh.Client(_mesh.Sleep);
        for (int i = 0; i < 3; i++) await client.GetAsync("/");
        await client.GetAsync("/fail");
        using var http = new HttpClient();
        var samples = PrometheusText.Parse(await http.GetStringAsync($"http://{_mesh.MetricsEndpoint}/metrics"));
        (string, string)[] common = [("reporter", "waypoint"), ("source_workload", "sleep"), ("source_principal", _mesh.Sleep.Identity),
            ("destination_service", "reviews.default.svc.cluster.local"), ("request_protocol", "http"), ("connection_security_policy", "mutual_tls")];
        Assert.Equal(3, PrometheusText.Sum(samples, "istio_requests_total", [.. common, ("response_code", "200")]));
        Assert.Equal(1, PrometheusText.Sum(samples, "istio_requests_total", [.. common, ("response_code", "500")]));
        Assert.Equal(4, PrometheusText.Sum(samples, "istio_request_duration_milliseconds_count", common));
        Assert.Contains(samples, s => s.Name == "istio_requests_total" && s.Labels["destination_workload"] is "reviews-v1" or "reviews-v2");
    }
}

using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using Ambient.Tests.Support;
using Ambient.Waypoint.Proxy;
using Grpc.Core;
using Grpc.Net.Client;

namespace Ambient.Tests.Waypoint;

/// <summary>
/// Requests with a body through a real waypoint: retried and mirrored with the same bytes while the body fits the
/// replay buffer (<see cref="ReplayableRequestBody.MaxBufferedBytes"/>), forwarded once beyond it. The flaky
/// endpoints answer 503 to every other request of their pod, so with one pod behind the route each request's first
/// attempt fails and its retry succeeds.
/// </summary>
public sealed class WaypointBodyReplayTests : IAsyncLifetime
{
    private static readonly Marshaller<string> Utf8 = Marshallers.Create(Encoding.UTF8.GetBytes, Encoding.UTF8.GetString);
    private static readonly Method<string, string> FlakyUnary = new(MethodType.Unary, "test.Echo", "Flaky", Utf8, Utf8);
    private static readonly Method<string, string> Collect = new(MethodType.ClientStreaming, "test.Echo", "Collect", Utf8, Utf8);
    private static readonly Method<string, string> Chat = new(MethodType.DuplexStreaming, "test.Echo", "Chat", Utf8, Utf8);

    private WaypointMesh _mesh = null!;

    public async Task InitializeAsync() => _mesh = await WaypointMesh.StartAsync("""
        httpRoutes:
          - metadata: {name: reviews, namespace: default}
            spec:
              parentRefs: [{group: "", kind: Service, name: reviews, port: 80}]
              rules:
                - matches: [{path: {type: PathPrefix, value: /mirror-echo}}]
                  filters: [{type: RequestMirror, requestMirror: {backendRef: {name: reviews-v2, port: 80}}}]
                  backendRefs: [{name: reviews-v1, port: 80}]
                - retry: {attempts: 3, codes: [503], backoff: 1ms}
                  backendRefs: [{name: reviews-v1, port: 80}]
        grpcRoutes:
          - metadata: {name: echo, namespace: default}
            spec:
              parentRefs: [{group: "", kind: Service, name: reviews, port: 90}]
              rules:
                - backendRefs: [{name: reviews-v1, port: 90}]

        """);

    public async Task DisposeAsync() => await _mesh.DisposeAsync();

    private static byte[] Body(int size, int seed)
    {
        var data = new byte[size];
        new Random(seed).NextBytes(data);
        return data;
    }

    private static string Digest(byte[] data) => $"{data.Length}:{Convert.ToHexStringLower(SHA256.HashData(data))}";

    private static HttpRequestMessage Post(string path, byte[] body, bool chunked, string contentType = "application/octet-stream")
    {
        // Chunked: no Content-Length, so the waypoint learns the size only as it reads.
        var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = chunked ? new ChunkedContent(body) : new ByteArrayContent(body) };
        request.Content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue(contentType);
        return request;
    }

    /// <summary>A body of unknown length, written in 8 KB pieces (HTTP/1.1 sends it chunked).</summary>
    private sealed class ChunkedContent(byte[] data) : HttpContent
    {
        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context)
        {
            for (int offset = 0; offset < data.Length; offset += 8192)
            {
                await stream.WriteAsync(data.AsMemory(offset, Math.Min(8192, data.Length - offset)));
                await stream.FlushAsync();
            }
        }

        protected override bool TryComputeLength(out long length)
        {
            length = -1;
            return false;
        }
    }

    [Theory]
    [InlineData(1024, false)]
    [InlineData(1024, true)]
    [InlineData(60 * 1024, false)]
    [InlineData(60 * 1024, true)]
    public async Task Post_bodies_within_the_buffer_are_retried_against_a_flaky_upstream_and_arrive_intact(int size, bool chunked)
    {
        using var client = _mesh.Client(_mesh.Sleep);
        const int requests = 50;
        int ok = 0;
        for (int i = 0; i < requests; i++)
        {
            var body = Body(size, i);
            using var response = await client.SendAsync(Post("/flaky-echo", body, chunked));
            if (response.StatusCode != HttpStatusCode.OK) continue;
            Assert.Equal(Digest(body), await response.Content.ReadAsStringAsync()); // the retry sent the same bytes
            ok++;
        }
        Assert.True(ok >= requests * 99 / 100, $"{ok}/{requests} succeeded");
        Assert.True(_mesh.AppV1.Requests >= requests * 19 / 10, $"the upstream saw {_mesh.AppV1.Requests} requests: the failures were retried");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_body_the_upstream_left_unread_before_answering_503_is_replayed_whole(bool chunked)
    {
        using var client = _mesh.Client(_mesh.Sleep);
        for (int i = 0; i < 20; i++)
        {
            var body = Body(60 * 1024, i);
            using var response = await client.SendAsync(Post("/flaky-early", body, chunked));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal(Digest(body), await response.Content.ReadAsStringAsync());
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_1MB_body_is_forwarded_intact_once_and_not_retried(bool chunked)
    {
        using var client = _mesh.Client(_mesh.Sleep);
        var statuses = new List<HttpStatusCode>();
        for (int i = 0; i < 4; i++)
        {
            var body = Body(1024 * 1024, i);
            using var response = await client.SendAsync(Post("/flaky-echo", body, chunked));
            statuses.Add(response.StatusCode);
            if (response.StatusCode == HttpStatusCode.OK) Assert.Equal(Digest(body), await response.Content.ReadAsStringAsync());
        }
        // Every other attempt fails at the pod, and nothing retries: the client sees each failure.
        Assert.Equal([HttpStatusCode.ServiceUnavailable, HttpStatusCode.OK, HttpStatusCode.ServiceUnavailable, HttpStatusCode.OK], statuses);
        Assert.Equal(4, _mesh.AppV1.Requests);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_mirrored_POST_reaches_the_shadow_with_the_same_body_and_content_type(bool chunked)
    {
        using var client = _mesh.Client(_mesh.Sleep);
        var bodies = Enumerable.Range(0, 3).Select(i => Body(10_000 + i, i)).ToArray();
        foreach (var body in bodies)
        {
            using var response = await client.SendAsync(Post("/mirror-echo", body, chunked, "application/x-test"));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal(Digest(body), await response.Content.ReadAsStringAsync());
        }
        for (int i = 0; i < 100 && _mesh.AppV2.Digests.Count < bodies.Length; i++) await Task.Delay(100);
        var shadowed = _mesh.AppV2.Digests.ToArray();
        Assert.Equal(bodies.Select(Digest).Order(), shadowed.Select(s => s.Digest).Order());
        Assert.All(shadowed, s => Assert.EndsWith("-shadow", s.Host));
        Assert.All(shadowed, s => Assert.Equal("application/x-test", s.ContentType));
    }

    [Fact]
    public async Task A_POST_too_large_to_keep_is_forwarded_but_not_mirrored()
    {
        using var client = _mesh.Client(_mesh.Sleep);
        var body = Body(1024 * 1024, 7);
        using (var response = await client.SendAsync(Post("/mirror-echo", body, chunked: true)))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal(Digest(body), await response.Content.ReadAsStringAsync());
        }
        var small = Body(100, 8);
        using (var response = await client.SendAsync(Post("/mirror-echo", small, chunked: false)))
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        // The small one's copy arrives; had the large one been copied, it would have come first.
        for (int i = 0; i < 100 && _mesh.AppV2.Digests.IsEmpty; i++) await Task.Delay(100);
        await Task.Delay(500);
        Assert.Equal([Digest(small)], _mesh.AppV2.Digests.Select(s => s.Digest));
    }

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
    public async Task A_unary_grpc_call_answered_503_is_retried_with_its_message()
    {
        using var channel = Channel();
        var invoker = channel.CreateCallInvoker();
        for (int i = 0; i < 10; i++)
            Assert.Equal($"v1:hello-{i}", await invoker.AsyncUnaryCall(FlakyUnary, null, new CallOptions(), $"hello-{i}"));
        Assert.Equal(20, _mesh.AppV1.Requests); // each call: a 503, then the retry
    }

    [Fact]
    public async Task A_client_stream_larger_than_the_buffer_is_not_retried_and_a_small_one_is()
    {
        using var channel = Channel();
        var invoker = channel.CreateCallInvoker();
        var kilobyte = new string('x', 1000);

        async Task<string> CollectAsync(int messages)
        {
            using var call = invoker.AsyncClientStreamingCall(Collect, null, new CallOptions());
            for (int i = 0; i < messages; i++) await call.RequestStream.WriteAsync(kilobyte);
            await call.RequestStream.CompleteAsync();
            return await call.ResponseAsync;
        }

        // 80 KB streamed: the pod reads it all and answers 503; the waypoint kept only 64 KiB, so the client sees it.
        var error = await Assert.ThrowsAsync<RpcException>(() => CollectAsync(80));
        Assert.Equal(StatusCode.Unavailable, error.StatusCode);
        Assert.Equal("10:10000", await CollectAsync(10)); // the pod's good turn
        Assert.Equal("10:10000", await CollectAsync(10)); // a 503, retried with the same 10 messages
        Assert.Equal(4, _mesh.AppV1.Requests);
    }

    [Fact]
    public async Task A_duplex_grpc_stream_flows_message_by_message_through_a_retrying_route()
    {
        using var channel = Channel();
        using var call = channel.CreateCallInvoker().AsyncDuplexStreamingCall(Chat, null, new CallOptions(deadline: DateTime.UtcNow.AddSeconds(30)));
        for (int i = 0; i < 5; i++)
        {
            // Each answer comes before the next message is sent: the body is kept for a retry, never held back.
            await call.RequestStream.WriteAsync($"m{i}");
            Assert.True(await call.ResponseStream.MoveNext(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10)));
            Assert.Equal($"v1:m{i}", call.ResponseStream.Current);
        }
        await call.RequestStream.CompleteAsync();
        Assert.False(await call.ResponseStream.MoveNext(CancellationToken.None));
        Assert.Equal(StatusCode.OK, call.GetStatus().StatusCode);
    }
}

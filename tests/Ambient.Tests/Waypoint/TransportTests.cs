using System.Net;
using System.Net.Http;
using System.Net.WebSockets;
using System.Security.Cryptography;
using System.Text;

namespace Ambient.Tests.Waypoint;

/// <summary>
/// HTTP/1.1, h2c, gRPC-shaped streaming and WebSocket through client → HBONE → waypoint (Kestrel) → YARP → HBONE →
/// destination → application, all on loopback with real mTLS.
/// </summary>
public sealed class TransportTests(TransportStack stack) : IClassFixture<TransportStack>
{
    private static CancellationToken Timeout(int seconds = 30) => new CancellationTokenSource(TimeSpan.FromSeconds(seconds)).Token;

    [Fact]
    public async Task Tunnel_feature_carries_the_peer_identity_client_and_dialled_target()
    {
        using var client = stack.CreateClient(HttpVersion.Version11);
        var report = TunnelReport.Parse(await client.Http.GetStringAsync("/tunnel", Timeout()));
        Assert.Equal(TransportStack.ClientId.ToString(), report.SourceIdentity);
        Assert.Equal(TransportStack.ClientAddress.ToString(), report.OriginalClient);
        Assert.Equal(TransportStack.Vip.ToString(), report.Target);
        // Kestrel's own connection info reflects the tunnel, so ordinary middleware sees the real client.
        Assert.Equal(TransportStack.ClientAddress.Address.ToString(), report.RemoteIp);
        Assert.Equal(TransportStack.Vip.Port, report.LocalPort);
        Assert.Equal("HTTP/1.1", report.Protocol);
    }

    [Fact]
    public async Task Http1_keep_alive_requests_share_one_tunnel_and_reach_the_upstream_over_hbone()
    {
        using var client = stack.CreateClient(HttpVersion.Version11);
        for (int i = 0; i < 20; i++)
        {
            using var response = await client.Http.PostAsync("/echo", new StringContent($"hello {i}"), Timeout());
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal($"hello {i}", await response.Content.ReadAsStringAsync());
            Assert.Equal("HTTP/1.1", Header(response, "x-upstream-protocol"));
            // The application sees the Host the client used, and the client's address in X-Forwarded-For.
            Assert.Equal(TransportStack.ServiceHost, Header(response, "x-upstream-host"));
            Assert.Equal(TransportStack.ClientAddress.Address.ToString(), Header(response, "x-upstream-xff"));
        }
        Assert.Equal(1, client.Tunnels);
        // The waypoint's upstream tunnels present the waypoint's identity.
        Assert.Contains(TransportStack.WaypointId.ToString(), stack.Destination.VerifiedPeers);
    }

    [Fact]
    public async Task One_megabyte_request_body_is_echoed_intact()
    {
        using var client = stack.CreateClient(HttpVersion.Version11);
        var body = RandomNumberGenerator.GetBytes(1024 * 1024);
        using var response = await client.Http.PostAsync("/echo", new ByteArrayContent(body), Timeout());
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(body.Length.ToString(), Header(response, "x-request-length"));
        Assert.Equal(SHA256.HashData(body), SHA256.HashData(await response.Content.ReadAsByteArrayAsync()));
    }

    [Fact]
    public async Task Unknown_path_status_comes_back_unchanged()
    {
        using var client = stack.CreateClient(HttpVersion.Version11);
        using var response = await client.Http.GetAsync("/missing", Timeout());
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }

    [Fact]
    public async Task H2c_prior_knowledge_multiplexes_requests_in_one_tunnel_and_stays_http2_upstream()
    {
        using var client = stack.CreateClient(HttpVersion.Version20);
        var ct = Timeout();
        var responses = await Task.WhenAll(Enumerable.Range(0, 20).Select(async i =>
        {
            using var response = await client.Http.PostAsync("/echo", new StringContent($"h2 {i}"), ct);
            return (i, response.Version, response.StatusCode, Protocol: Header(response, "x-upstream-protocol"), Body: await response.Content.ReadAsStringAsync(ct));
        }));
        foreach (var r in responses)
        {
            Assert.Equal(HttpVersion.Version20, r.Version);
            Assert.Equal(HttpStatusCode.OK, r.StatusCode);
            Assert.Equal("HTTP/2", r.Protocol);
            Assert.Equal($"h2 {r.i}", r.Body);
        }
        Assert.Equal(1, client.Tunnels);
        var report = TunnelReport.Parse(await client.Http.GetStringAsync("/tunnel", ct));
        Assert.Equal("HTTP/2", report.Protocol);
        Assert.Equal(TransportStack.ClientId.ToString(), report.SourceIdentity);
    }

    [Fact]
    public async Task Streaming_http2_response_arrives_in_pieces_with_trailers()
    {
        using var client = stack.CreateClient(HttpVersion.Version20);
        var ct = Timeout();
        using var request = new HttpRequestMessage(HttpMethod.Post, "/stream")
        {
            Content = new ByteArrayContent([0, 0, 0, 0, 0]),
            Version = HttpVersion.Version20, // a hand-made request does not take the client's default version
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };
        request.Content.Headers.ContentType = new("application/grpc");
        using var response = await client.Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, ct);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(HttpVersion.Version20, response.Version);
        Assert.Equal("application/grpc", response.Content.Headers.ContentType?.MediaType);
        // The first piece arrives on its own, before the application has written the rest: nothing buffers it.
        await using var body = await response.Content.ReadAsStreamAsync(ct);
        var first = new byte[64];
        Assert.Equal("chunk0;", Encoding.ASCII.GetString(first, 0, await body.ReadAsync(first, ct)));
        Assert.Equal("chunk1;chunk2;chunk3;chunk4;", await new StreamReader(body).ReadToEndAsync(ct));
        Assert.Equal("0", response.TrailingHeaders.GetValues("grpc-status").Single());
        Assert.Equal("done", response.TrailingHeaders.GetValues("grpc-message").Single());
    }

    [Fact]
    public async Task WebSocket_upgrade_echoes_messages_both_ways()
    {
        using var client = stack.CreateClient(HttpVersion.Version11);
        var ct = Timeout();
        using var socket = new ClientWebSocket();
        await socket.ConnectAsync(new Uri($"ws://{TransportStack.ServiceHost}/ws"), new HttpMessageInvoker(client.Handler, disposeHandler: false), ct);
        var buffer = new byte[256 * 1024];
        foreach (var size in new[] { 5, 200_000 })
        {
            var message = RandomNumberGenerator.GetBytes(size);
            await socket.SendAsync(message, WebSocketMessageType.Binary, endOfMessage: true, ct);
            int got = 0;
            WebSocketReceiveResult result;
            do
            {
                result = await socket.ReceiveAsync(buffer.AsMemory(got).ToArraySegment(), ct);
                got += result.Count;
            }
            while (!result.EndOfMessage);
            Assert.Equal(message, buffer[..got]);
        }
        await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "done", ct);
        Assert.Equal(WebSocketState.Closed, socket.State);
    }

    [Fact]
    public async Task Malformed_and_oversized_requests_get_400_and_431_and_other_tunnels_keep_working()
    {
        var ct = Timeout();
        Assert.StartsWith("HTTP/1.1 400", await RawExchangeAsync("GET /echo HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n", ct));
        var big = new string('a', 40 * 1024);
        Assert.StartsWith("HTTP/1.1 431", await RawExchangeAsync($"GET /echo HTTP/1.1\r\nHost: x\r\nx-big: {big}\r\n\r\n", ct));
        Assert.StartsWith("HTTP/1.1 400", await RawExchangeAsync("\x16\x03\x01 not http at all\r\n\r\n", ct));

        using var client = stack.CreateClient(HttpVersion.Version11);
        Assert.Equal("still here", await (await client.Http.PostAsync("/echo", new StringContent("still here"), ct)).Content.ReadAsStringAsync(ct));
    }

    [Fact]
    public async Task Http2_protocol_abuse_gets_goaway_and_other_tunnels_keep_working()
    {
        var ct = Timeout();
        // Client preface, empty SETTINGS, then a HEADERS frame on stream 0 (RFC 9113 §6.2: a connection error).
        var abuse = new MemoryStream();
        abuse.Write("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"u8);
        abuse.Write([0, 0, 0, 0x4, 0, 0, 0, 0, 0]);
        abuse.Write([0, 0, 1, 0x1, 0x5, 0, 0, 0, 0, 0x82]);
        await using (var tunnel = await stack.OpenTunnelAsync(ct))
        {
            await tunnel.WriteAsync(abuse.ToArray(), ct);
            var received = new MemoryStream();
            await tunnel.CopyToAsync(received, ct);
            var frames = received.ToArray();
            int offset = 0;
            int? goAwayError = null;
            while (offset + 9 <= frames.Length)
            {
                int length = (frames[offset] << 16) | (frames[offset + 1] << 8) | frames[offset + 2];
                if (frames[offset + 3] == 0x7 && offset + 9 + 8 <= frames.Length)
                    goAwayError = (frames[offset + 13] << 24) | (frames[offset + 14] << 16) | (frames[offset + 15] << 8) | frames[offset + 16];
                offset += 9 + length;
            }
            Assert.Equal(0x1, goAwayError); // GOAWAY PROTOCOL_ERROR
        }

        using var client = stack.CreateClient(HttpVersion.Version20);
        Assert.Equal("still here", await (await client.Http.PostAsync("/echo", new StringContent("still here"), ct)).Content.ReadAsStringAsync(ct));
    }

    /// <summary>Sends raw bytes in a fresh tunnel and reads until the waypoint ends it.</summary>
    private async Task<string> RawExchangeAsync(string request, CancellationToken ct)
    {
        await using var tunnel = await stack.OpenTunnelAsync(ct);
        await tunnel.WriteAsync(Encoding.ASCII.GetBytes(request), ct);
        var received = new MemoryStream();
        await tunnel.CopyToAsync(received, ct);
        return Encoding.ASCII.GetString(received.ToArray());
    }

    private static string Header(HttpResponseMessage response, string name)
        => response.Headers.TryGetValues(name, out var values) ? string.Join(",", values) : "";
}

internal static class MemoryExtensions
{
    public static ArraySegment<byte> ToArraySegment(this Memory<byte> memory)
        => System.Runtime.InteropServices.MemoryMarshal.TryGetArray<byte>(memory, out var segment) ? segment : throw new ArgumentException("not array-backed");
}

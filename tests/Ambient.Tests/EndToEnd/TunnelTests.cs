using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using Ambient.Tests.Support;

namespace Ambient.Tests.EndToEnd;

/// <summary>
/// Client → daemon A (SOCKS5, local mode) → HBONE mTLS → daemon B → a real TCP server, with both daemons in
/// this process serving different nodes, exactly as two daemons on one machine would.
/// </summary>
public sealed class TunnelTests : IAsyncLifetime
{
    private readonly LocalMesh _mesh = new();
    private readonly TestWorkload _client = new("sleep", "node-a", "sleep");
    private readonly TestWorkload _server = new("echo", "node-b", "echo");
    private readonly IPAddress _vip = TestAddresses.Next();
    private EchoServer _echo = null!;

    public async Task InitializeAsync()
    {
        _echo = new EchoServer(_server.Address, 8080);
        _mesh.WriteConfig(LocalMesh.Config([_client, _server], ("echo", _vip, 80, 8080, ["echo"])));
        await _mesh.StartAsync("node-a", "node-b");
    }

    public async Task DisposeAsync()
    {
        await _mesh.DisposeAsync();
        await _echo.DisposeAsync();
    }

    [Fact]
    public async Task Hundred_megabytes_each_way_arrive_intact_and_half_close_propagates()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        using var socket = await Socks5Client.ConnectAsync(_client.Socks5, new IPEndPoint(_vip, 80), cts.Token);
        const long total = 100L * 1024 * 1024;

        var receiver = Task.Run(async () =>
        {
            using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            var buffer = new byte[256 * 1024];
            long got = 0;
            int n;
            while ((n = await socket.ReceiveAsync(buffer, SocketFlags.None, cts.Token)) > 0)
            {
                sha.AppendData(buffer, 0, n);
                got += n;
            }
            return (got, Convert.ToHexString(sha.GetHashAndReset()));
        });

        using var sent = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var rng = new Random(42);
        var chunk = new byte[256 * 1024];
        for (long off = 0; off < total; off += chunk.Length)
        {
            rng.NextBytes(chunk);
            sent.AppendData(chunk);
            await socket.SendAsync(chunk, SocketFlags.None, cts.Token);
        }
        // Half-close: the echo server sees EOF only if our FIN crosses both daemons, and we see EOF only if
        // its FIN comes back the same way — after every echoed byte.
        socket.Shutdown(SocketShutdown.Send);
        var (received, hash) = await receiver;
        Assert.Equal(total, received);
        Assert.Equal(Convert.ToHexString(sent.GetHashAndReset()), hash);
    }

    [Fact]
    public async Task Two_hundred_concurrent_connections_share_pooled_http2_connections()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var target = new IPEndPoint(_vip, 80);
        // Hold all 200 open at once so they must be multiplexed concurrently.
        var sockets = await Task.WhenAll(Enumerable.Range(0, 200).Select(_ => Socks5Client.ConnectAsync(_client.Socks5, target, cts.Token)));
        try
        {
            var pool = _mesh.Daemons["node-a"].Context!.Hbone;
            // 100 streams per connection (DESIGN.md §3): 200 tunnels need exactly two connections.
            Assert.Equal(2, pool.ConnectionCount);
            await Task.WhenAll(sockets.Select(async (s, i) =>
            {
                var payload = RandomNumberGenerator.GetBytes(32 * 1024 + i);
                await s.SendAsync(payload, SocketFlags.None, cts.Token);
                s.Shutdown(SocketShutdown.Send);
                var echoed = await ReadToEndAsync(s, cts.Token);
                Assert.Equal(payload, echoed);
            }));
        }
        finally
        {
            foreach (var s in sockets) s.Dispose();
        }
        Assert.True(_echo.Accepted >= 200);
    }

    [Fact]
    public async Task Service_hostnames_resolve_through_socks5()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        using var s = await Socks5Client.ConnectAsync(_client.Socks5, "echo.default.svc.cluster.local", 80, cts.Token);
        await s.SendAsync("ping"u8.ToArray(), SocketFlags.None, cts.Token);
        s.Shutdown(SocketShutdown.Send);
        Assert.Equal("ping"u8.ToArray(), await ReadToEndAsync(s, cts.Token));
    }

    [Fact]
    public async Task Inbound_log_shows_the_client_identity_and_bytes()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        using (var s = await Socks5Client.ConnectAsync(_client.Socks5, new IPEndPoint(_server.Address, 8080), cts.Token))
        {
            await s.SendAsync(new byte[1234], SocketFlags.None, cts.Token);
            s.Shutdown(SocketShutdown.Send);
            Assert.Equal(1234, (await ReadToEndAsync(s, cts.Token)).Length);
        }
        var line = await _mesh.Logs.WaitForAsync(TimeSpan.FromSeconds(5), "direction=inbound", $"src.identity={_client.Identity}", $"dst.addr={_server.Address}:8080", "bytes_sent=1234", "bytes_recv=1234");
        Assert.NotNull(line);
    }

    [Fact]
    public async Task Unreachable_upstream_is_refused_cleanly_and_the_daemon_keeps_serving()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        // Nothing listens on 9999 at the server workload: daemon B answers 503, daemon A refuses the client.
        var e = await Assert.ThrowsAsync<Socks5RefusedException>(() => Socks5Client.ConnectAsync(_client.Socks5, new IPEndPoint(_server.Address, 9999), cts.Token));
        Assert.Equal(5, e.Reply);
        Assert.NotNull(await _mesh.Logs.WaitForAsync(TimeSpan.FromSeconds(5), "direction=inbound", "status=503"));
        using var ok = await Socks5Client.ConnectAsync(_client.Socks5, new IPEndPoint(_vip, 80), cts.Token);
        await ok.SendAsync("x"u8.ToArray(), SocketFlags.None, cts.Token);
        ok.Shutdown(SocketShutdown.Send);
        Assert.Equal("x"u8.ToArray(), await ReadToEndAsync(ok, cts.Token));
    }

    [Fact]
    public async Task Destinations_outside_the_mesh_pass_through_unchanged()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        await using var outside = new EchoServer(TestAddresses.Next());
        using var s = await Socks5Client.ConnectAsync(_client.Socks5, outside.EndPoint, cts.Token);
        await s.SendAsync("plain"u8.ToArray(), SocketFlags.None, cts.Token);
        s.Shutdown(SocketShutdown.Send);
        Assert.Equal("plain"u8.ToArray(), await ReadToEndAsync(s, cts.Token));
        Assert.NotNull(await _mesh.Logs.WaitForAsync(TimeSpan.FromSeconds(5), "route=passthrough", $"dst.addr={outside.EndPoint}"));
    }

    internal static async Task<byte[]> ReadToEndAsync(Socket s, CancellationToken ct)
    {
        var ms = new MemoryStream();
        var buffer = new byte[64 * 1024];
        int n;
        while ((n = await s.ReceiveAsync(buffer, SocketFlags.None, ct)) > 0)
            ms.Write(buffer, 0, n);
        return ms.ToArray();
    }
}

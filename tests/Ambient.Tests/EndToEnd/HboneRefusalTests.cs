using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using Ambient.Hbone;
using Ambient.Http2;
using Ambient.Identity;
using Ambient.Tests.Support;
using Microsoft.Extensions.Logging.Abstractions;

namespace Ambient.Tests.EndToEnd;

/// <summary>
/// What the HBONE port refuses, each with a log line that says why, and the daemon serving normally afterwards.
/// </summary>
public sealed class HboneRefusalTests : IAsyncLifetime
{
    private readonly LocalMesh _mesh = new();
    private readonly TestWorkload _client = new("sleep", "node-a", "sleep");
    private readonly TestWorkload _server = new("echo", "node-b", "echo");
    private EchoServer _echo = null!;
    private MeshCa _ca = null!;

    public async Task InitializeAsync()
    {
        _echo = new EchoServer(_server.Address, 8080);
        _ca = _mesh.LoadCa();
        _mesh.WriteConfig(LocalMesh.Config([_client, _server]));
        await _mesh.StartAsync("node-a", "node-b");
    }

    public async Task DisposeAsync()
    {
        await _mesh.DisposeAsync();
        await _echo.DisposeAsync();
        _ca.Dispose();
    }

    private WorkloadCertificate Issue(string td, string sa, DateTimeOffset? notBefore = null, DateTimeOffset? notAfter = null, MeshCa? ca = null)
        => (ca ?? _ca).Issue(new SpiffeId(td, "default", sa), notBefore ?? DateTimeOffset.UtcNow.AddMinutes(-1), notAfter ?? DateTimeOffset.UtcNow.AddHours(1));

    /// <summary>Handshakes with the daemon's HBONE port using the given client certificate; true if the server kept the connection.</summary>
    private async Task<bool> ServerAcceptsAsync(X509Certificate2? clientCert)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(_server.Hbone);
        await using var tls = new SslStream(new NetworkStream(socket, ownsSocket: false));
        var options = new SslClientAuthenticationOptions
        {
            TargetHost = "",
            EnabledSslProtocols = SslProtocols.Tls13,
            ApplicationProtocols = [SslApplicationProtocol.Http2],
            RemoteCertificateValidationCallback = (_, _, _, _) => true,
            ClientCertificateContext = clientCert is null ? null : SslStreamCertificateContext.Create(clientCert, null, offline: true),
        };
        try
        {
            await tls.AuthenticateAsClientAsync(options).WaitAsync(TimeSpan.FromSeconds(10));
            // TLS 1.3: the server checks our certificate after the client considers the handshake done, so the
            // refusal shows as the connection closing on the first read.
            await tls.WriteAsync(FrameReaderPreface());
            var buffer = new byte[64];
            int n = await tls.ReadAsync(buffer).AsTask().WaitAsync(TimeSpan.FromSeconds(10));
            return n > 0;
        }
        catch (Exception e) when (e is AuthenticationException or IOException)
        {
            return false;
        }
    }

    private static byte[] FrameReaderPreface() => [.. Ambient.Http2.Frames.FrameReader.ClientPreface, 0, 0, 0, 4, 0, 0, 0, 0, 0];

    private async Task AssertStillServesAsync()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        using var s = await Socks5Client.ConnectAsync(_client.Socks5, new IPEndPoint(_server.Address, 8080), cts.Token);
        await s.SendAsync("still-up"u8.ToArray(), SocketFlags.None, cts.Token);
        s.Shutdown(SocketShutdown.Send);
        Assert.Equal("still-up"u8.ToArray(), await TunnelTests.ReadToEndAsync(s, cts.Token));
    }

    private async Task AssertRefusalLoggedAsync(string reasonFragment)
    {
        var line = await _mesh.Logs.WaitForAsync(TimeSpan.FromSeconds(5), "refused", reasonFragment);
        Assert.True(line is not null, $"no refusal log line containing '{reasonFragment}'. Lines:\n" + string.Join("\n", _mesh.Logs.Lines.Where(l => l.Contains("refused"))));
    }

    [Fact]
    public async Task Valid_mesh_certificate_is_accepted()
    {
        Assert.True(await ServerAcceptsAsync(Issue("cluster.local", "sleep").Certificate));
    }

    [Fact]
    public async Task No_client_certificate_is_refused()
    {
        Assert.False(await ServerAcceptsAsync(null));
        await AssertRefusalLoggedAsync("client presented no certificate");
        await AssertStillServesAsync();
    }

    [Fact]
    public async Task Certificate_from_another_ca_is_refused()
    {
        using var other = MeshCa.Create();
        Assert.False(await ServerAcceptsAsync(Issue("cluster.local", "sleep", ca: other).Certificate));
        await AssertRefusalLoggedAsync("mesh CA");
        await AssertStillServesAsync();
    }

    [Fact]
    public async Task Expired_certificate_is_refused()
    {
        var expired = Issue("cluster.local", "sleep", DateTimeOffset.UtcNow.AddDays(-2), DateTimeOffset.UtcNow.AddDays(-1));
        Assert.False(await ServerAcceptsAsync(expired.Certificate));
        await AssertRefusalLoggedAsync("expired");
        await AssertStillServesAsync();
    }

    [Fact]
    public async Task Another_trust_domain_is_refused()
    {
        Assert.False(await ServerAcceptsAsync(Issue("other.org", "sleep").Certificate));
        await AssertRefusalLoggedAsync("other.org");
        await AssertStillServesAsync();
    }

    [Theory]
    [InlineData("GET / HTTP/1.1\r\nHost: x\r\n\r\n")]
    [InlineData("\u0001\u0002garbage\u00ff\u0000\u0016\u0003\u0001\u0000\u0005hello")]
    public async Task Plaintext_or_garbage_on_the_hbone_port_is_refused(string bytes)
    {
        using (var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp))
        {
            await socket.ConnectAsync(_server.Hbone);
            await socket.SendAsync(System.Text.Encoding.Latin1.GetBytes(bytes), SocketFlags.None);
            var buffer = new byte[4096];
            // The server fails the handshake and closes: the read ends (an alert or EOF), it never hangs.
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            try { while (await socket.ReceiveAsync(buffer, SocketFlags.None, cts.Token) > 0) { } }
            catch (SocketException) { }
        }
        await AssertRefusalLoggedAsync("TLS handshake failed");
        await AssertStillServesAsync();
    }

    [Fact]
    public async Task Non_connect_http2_request_gets_400()
    {
        var cert = Issue("cluster.local", "sleep");
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(_server.Hbone);
        var tls = new SslStream(new NetworkStream(socket, ownsSocket: true));
        await tls.AuthenticateAsClientAsync(MeshTls.CreateClientOptions(cert, _ca.RootCertificate, [new SpiffeId("cluster.local", "default", "echo")], NullLogger.Instance));
        await using var conn = new Http2Connection(tls, Http2ConnectionOptions.Client, new Http2ConnectionInfo(socket.LocalEndPoint, socket.RemoteEndPoint));
        _ = conn.RunAsync();
        await conn.Ready.WaitAsync(TimeSpan.FromSeconds(10));
        var stream = conn.TryOpenStream([new(":method", "GET"), new(":scheme", "https"), new(":path", "/"), new(":authority", $"{_server.Address}:8080")], endStream: true)!;
        var response = await stream.ResponseHeaders.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal("400", HeaderRules.Get(response, ":status"));
        Assert.NotNull(await _mesh.Logs.WaitForAsync(TimeSpan.FromSeconds(5), "status=400", "is not CONNECT"));
    }

    [Fact]
    public async Task Connect_to_an_address_other_than_the_one_dialled_gets_400()
    {
        var cert = Issue("cluster.local", "sleep");
        await using var client = new HboneClient(new HboneClientOptions(), (_, _) => ValueTask.FromResult(
            MeshTls.CreateClientOptions(cert, _ca.RootCertificate, [new SpiffeId("cluster.local", "default", "echo")], NullLogger.Instance)));
        var e = await Assert.ThrowsAsync<HboneConnectException>(() => client.ConnectAsync(new HboneConnectRequest(
            cert.Identity.ToString(), [$"spiffe://cluster.local/ns/default/sa/echo"], _server.Hbone, new IPEndPoint(_client.Address, 8080))).AsTask());
        Assert.Equal(400, e.Status);
    }

    [Fact]
    public async Task Client_refuses_a_server_with_the_wrong_identity()
    {
        // An impostor with a valid mesh certificate for another identity sits at a mesh workload's address.
        var impostorAddress = TestAddresses.Next();
        var victim = new TestWorkload("victim", "node-c", "victim") { Address = impostorAddress };
        _mesh.WriteConfig(LocalMesh.Config([_client, _server, victim]));
        await WaitForReloadAsync();
        var impostorCert = Issue("cluster.local", "impostor");
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(impostorAddress, 15008));
        listener.Listen();
        _ = Task.Run(async () =>
        {
            var s = await listener.AcceptAsync();
            await HboneServer.ServeAsync(s, MeshTls.CreateServerOptions(impostorCert, _ca.RootCertificate, "cluster.local", NullLogger.Instance),
                tls => null, r => r.RespondAsync(200).AsTask(), Http2ConnectionOptions.Server, NullLogger.Instance);
        });
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        await Assert.ThrowsAsync<Socks5RefusedException>(() => Socks5Client.ConnectAsync(_client.Socks5, new IPEndPoint(impostorAddress, 8080), cts.Token));
        Assert.NotNull(await _mesh.Logs.WaitForAsync(TimeSpan.FromSeconds(5), "impostor", "is not one of"));
        await AssertStillServesAsync();
    }

    private async Task WaitForReloadAsync()
    {
        var store = _mesh.Daemons["node-a"].Config!;
        long before = store.Current.Generation;
        for (int i = 0; i < 100 && store.Current.Generation == before; i++)
            await Task.Delay(50);
        Assert.NotEqual(before, store.Current.Generation);
    }
}

using Ambient.Tests.Support;
using System.Text.Json;
using Ambient.Identity;
using Xunit.Abstractions;

namespace Ambient.Tests.Interop;

/// <summary>
/// Node.js's own TLS + HTTP/2 stack as the HBONE client (node/hbone-client.js), our HboneServer with the
/// daemon's stream handling and the real <c>TunnelRelay</c> in front of a TCP echo server.
/// </summary>
public sealed class NodeHttp2InteropTests(ITestOutputHelper output) : IAsyncLifetime
{
    private static readonly TimeSpan NodeTimeout = TimeSpan.FromSeconds(20);

    private readonly TempDirectory _dir = new();
    private readonly TestLog _log = new(output, "hbone-server");
    private InteropPki _pki = null!;
    private PemFiles _server = null!;
    private PemFiles _client = null!;
    private EchoServer _echo = null!;
    private HboneTestServer _hbone = null!;

    public Task InitializeAsync()
    {
        _pki = new InteropPki(_dir);
        _server = _pki.IssueFiles(InteropPki.Id("echo", "echo-server"), "server");
        _client = _pki.IssueFiles(InteropPki.Id("node", "node-client"), "node-client");
        _echo = new EchoServer(System.Net.IPAddress.Loopback);
        _hbone = new HboneTestServer(_server.Certificate, _pki.Ca, _log);
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        if (_hbone is not null) await _hbone.DisposeAsync();
        if (_echo is not null) await _echo.DisposeAsync();
        _pki?.Dispose();
        _dir.Dispose();
    }

    [NodeFact]
    public async Task Node_client_tunnels_concurrent_CONNECT_streams_through_our_server()
    {
        const int streams = 6, bytes = 512 * 1024;
        var result = await RunNodeAsync(new
        {
            mode = "connect",
            ca = _pki.RootPemPath,
            cert = _client.CertificatePath,
            key = _client.KeyPath,
            expectedServerId = _server.Identity.ToString(),
            authority = $"127.0.0.1:{_echo.EndPoint.Port}",
            streams,
            bytes,
        }, expectSuccess: true);

        var tls = result.GetProperty("tls");
        Assert.Equal("TLSv1.3", tls.GetProperty("protocol").GetString());
        Assert.Equal("h2", tls.GetProperty("alpn").GetString());
        Assert.Equal($"URI:{_server.Identity}", tls.GetProperty("peerSan").GetString());
        var nodeStreams = result.GetProperty("streams").EnumerateArray().ToList();
        Assert.Equal(streams, nodeStreams.Count);
        foreach (var s in nodeStreams)
        {
            Assert.Equal(200, s.GetProperty("status").GetInt32());
            Assert.Equal(bytes, s.GetProperty("received").GetInt32());
            Assert.True(s.GetProperty("match").GetBoolean(), $"stream {s.GetProperty("index")}: echo differs from what was sent");
        }

        // Our side: one connection, whose client proved the Node workload's identity on every stream;
        // each relay carried the payload both ways and ended cleanly through the half-closes.
        Assert.Equal(_client.Identity.ToString(), Assert.Single(_hbone.VerifiedPeers));
        await WaitForAsync(() => _hbone.Streams.Count == streams, "the server to finish every stream");
        foreach (var s in _hbone.Streams)
        {
            Assert.Equal("CONNECT", s.Method);
            Assert.Equal($"127.0.0.1:{_echo.EndPoint.Port}", s.Authority);
            Assert.Equal(_client.Identity.ToString(), s.PeerIdentity);
            Assert.Equal(200, s.Status);
            Assert.NotNull(s.Relay);
            Assert.Null(s.Relay!.Value.Error);
            Assert.Equal(bytes, s.Relay.Value.BytesFromTunnel);
            Assert.Equal(bytes, s.Relay.Value.BytesToTunnel);
        }
        Assert.Equal(streams, _echo.Accepted);
        Assert.Empty(_hbone.HandshakeFailures);
    }

    [NodeFact]
    public async Task Node_GET_is_answered_400_by_the_handler()
    {
        var result = await RunNodeAsync(new
        {
            mode = "get",
            ca = _pki.RootPemPath,
            cert = _client.CertificatePath,
            key = _client.KeyPath,
            expectedServerId = _server.Identity.ToString(),
            authority = $"127.0.0.1:{_echo.EndPoint.Port}",
            streams = 1,
            bytes = 0,
        }, expectSuccess: true);

        var stream = Assert.Single(result.GetProperty("streams").EnumerateArray());
        Assert.Equal(400, stream.GetProperty("status").GetInt32());
        Assert.True(stream.GetProperty("ended").GetBoolean(), "the 400 must end the stream");
        await WaitForAsync(() => !_hbone.Streams.IsEmpty, "the server to record the stream");
        var seen = Assert.Single(_hbone.Streams);
        Assert.Equal("GET", seen.Method);
        Assert.Equal(400, seen.Status);
        Assert.Equal(_client.Identity.ToString(), seen.PeerIdentity);
        Assert.Equal(0, _echo.Accepted);
    }

    [NodeFact]
    public async Task Node_with_a_certificate_from_another_CA_is_refused_at_TLS()
    {
        using var otherDir = new TempDirectory();
        using var otherPki = new InteropPki(otherDir, "CN=Some Other Root");
        var foreign = otherPki.IssueFiles(InteropPki.Id("node", "node-client"), "foreign-client");

        var result = await RunNodeAsync(new
        {
            mode = "connect",
            ca = _pki.RootPemPath, // Node itself trusts our server; only its own certificate is foreign
            cert = foreign.CertificatePath,
            key = foreign.KeyPath,
            expectedServerId = _server.Identity.ToString(),
            authority = $"127.0.0.1:{_echo.EndPoint.Port}",
            streams = 2,
            bytes = 1024,
        }, expectSuccess: false);

        // The script reports the failure. In TLS 1.3 the client's handshake completes before the server has
        // judged its certificate, so Node sees the refusal only afterwards: the connection closes (our
        // SslStream-based server sends no alert, see the report) and no stream ever gets a response.
        var errors = CollectErrors(result);
        output.WriteLine("node saw: " + string.Join(" | ", errors));
        Assert.NotEmpty(errors);
        Assert.All(result.GetProperty("streams").EnumerateArray(), s =>
        {
            Assert.Equal(JsonValueKind.Null, s.GetProperty("status").ValueKind);
            Assert.Equal(JsonValueKind.Object, s.GetProperty("error").ValueKind);
        });

        await WaitForAsync(() => !_hbone.HandshakeFailures.IsEmpty, "the server to record the refused handshake");
        var reason = Assert.Single(_hbone.HandshakeFailures);
        Assert.Contains("chain", reason, StringComparison.OrdinalIgnoreCase);
        Assert.Empty(_hbone.VerifiedPeers);
        Assert.Empty(_hbone.Streams);
        Assert.Equal(0, _echo.Accepted);
    }

    [NodeFact]
    public async Task Node_refuses_our_server_when_its_identity_is_not_the_expected_one()
    {
        // Proves the script's SPIFFE check is live, so the positive test's identity check means something.
        var result = await RunNodeAsync(new
        {
            mode = "connect",
            ca = _pki.RootPemPath,
            cert = _client.CertificatePath,
            key = _client.KeyPath,
            expectedServerId = InteropPki.Id("echo", "someone-else").ToString(),
            authority = $"127.0.0.1:{_echo.EndPoint.Port}",
            streams = 1,
            bytes = 1024,
        }, expectSuccess: false);

        Assert.Equal("ERR_SPIFFE_ID_MISMATCH", result.GetProperty("sessionError").GetProperty("code").GetString());
        Assert.Equal(0, _echo.Accepted);
        Assert.Empty(_hbone.Streams);
    }

    private async Task<JsonElement> RunNodeAsync(object config, bool expectSuccess)
    {
        var settings = JsonSerializer.SerializeToElement(config);
        var merged = new Dictionary<string, object?>
        {
            ["url"] = $"https://127.0.0.1:{_hbone.EndPoint.Port}",
            ["timeoutMs"] = (int)(NodeTimeout.TotalMilliseconds - 5000),
        };
        foreach (var p in settings.EnumerateObject())
            merged[p.Name] = p.Value;
        var script = ExternalTools.InteropSource("node", "hbone-client.js");
        Assert.True(File.Exists(script), $"missing {script}");

        await using var node = ExternalProcess.Start(ExternalTools.Node.Value!, [script, JsonSerializer.Serialize(merged)], output.WriteLine);
        int exit = await node.WaitForExitAsync(NodeTimeout);
        var last = node.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries).LastOrDefault();
        Assert.True(last is not null && last.StartsWith('{'), $"node printed no result (exit {exit}).\n{node.Output}");
        var result = JsonDocument.Parse(last!).RootElement.Clone();
        if (expectSuccess)
            Assert.True(exit == 0 && result.GetProperty("ok").GetBoolean(), $"node client failed (exit {exit}): {last}\n{node.Output}");
        else
            Assert.True(exit == 1 && !result.GetProperty("ok").GetBoolean(), $"node client should have failed cleanly (exit {exit}): {last}\n{node.Output}");
        return result;
    }

    private static List<string> CollectErrors(JsonElement result)
    {
        var errors = new List<string>();
        if (result.GetProperty("sessionError").ValueKind == JsonValueKind.Object)
            errors.Add("session: " + result.GetProperty("sessionError"));
        if (result.GetProperty("socketError").ValueKind == JsonValueKind.Object)
            errors.Add("socket: " + result.GetProperty("socketError"));
        if (result.GetProperty("socketEndedByPeer").GetBoolean())
            errors.Add("socket: closed by the server");
        foreach (var s in result.GetProperty("streams").EnumerateArray())
        {
            if (s.GetProperty("error").ValueKind == JsonValueKind.Object)
                errors.Add($"stream {s.GetProperty("index")}: {s.GetProperty("error")}");
        }
        return errors;
    }

    private static async Task WaitForAsync(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(5);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
                Assert.Fail($"timed out waiting for {what}");
            await Task.Delay(20);
        }
    }
}

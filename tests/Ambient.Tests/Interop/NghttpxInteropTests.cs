using Ambient.Tests.Support;
using System.Diagnostics;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography;
using Ambient.Hbone;
using Ambient.Http2;
using Ambient.Identity;
using Xunit.Abstractions;

namespace Ambient.Tests.Interop;

/// <summary>
/// Our HboneClient against nghttpx as the HBONE front end: nghttpx terminates mesh mTLS (its certificate is a
/// mesh-CA-issued SPIFFE certificate; it requires ours) and forwards each CONNECT stream to an HTTP/1.1 CONNECT
/// proxy, which dials a TCP echo server.
/// Half-closes do not survive nghttpx 1.52 in <c>-s</c> mode (observed with --frontend-frame-debug): a client
/// END_STREAM is not passed on to the backend (the tunnel just stays open), and a backend FIN becomes END_STREAM
/// immediately followed by RST_STREAM(NO_ERROR). So the echo exchanges are fixed-size (send N bytes, read N
/// back, compare checksums, reset) and never wait for the end of a stream.
/// </summary>
public sealed class NghttpxInteropTests(ITestOutputHelper output) : IAsyncLifetime
{
    private readonly TempDirectory _dir = new();
    private readonly TestLog _log = new(output, "hbone-client");
    private InteropPki _pki = null!;
    private PemFiles _proxyCert = null!;
    private WorkloadCertificate _clientCert = null!;
    private EchoServer _echo = null!;
    private Http1ConnectProxy _backend = null!;
    private NghttpxProcess _nghttpx = null!;

    public async Task InitializeAsync()
    {
        _pki = new InteropPki(_dir);
        _proxyCert = _pki.IssueFiles(InteropPki.Id("istio-system", "nghttpx-gateway"), "nghttpx");
        _clientCert = _pki.Issue(InteropPki.Id("default", "client"));
        _echo = new EchoServer(System.Net.IPAddress.Loopback);
        _backend = new Http1ConnectProxy();
        if (ExternalTools.Nghttpx.Value is not null)
            _nghttpx = await NghttpxProcess.StartAsync(_backend.EndPoint, _pki.RootPemPath, _proxyCert.KeyPath, _proxyCert.CertificatePath, output.WriteLine);
    }

    public async Task DisposeAsync()
    {
        if (_nghttpx is not null) await _nghttpx.DisposeAsync();
        if (_backend is not null) await _backend.DisposeAsync();
        if (_echo is not null) await _echo.DisposeAsync();
        _pki?.Dispose();
        _dir.Dispose();
    }

    [NghttpxFact]
    public async Task HboneClient_tunnels_concurrent_streams_through_nghttpx()
    {
        const int streams = 8, bytes = 1024 * 1024;
        await using var client = CreateClient(_clientCert, _pki.Ca, _proxyCert.Identity);
        var request = new HboneConnectRequest(_clientCert.Identity.ToString(), [_proxyCert.Identity.ToString()], _nghttpx.EndPoint, _echo.EndPoint);

        var results = await Task.WhenAll(Enumerable.Range(0, streams).Select(async i =>
        {
            var stream = await client.ConnectAsync(request);
            return await EchoAsync(stream, bytes, seed: i);
        })).WaitAsync(TimeSpan.FromSeconds(20));

        foreach (var (sent, received, match) in results)
        {
            Assert.Equal(bytes, sent);
            Assert.Equal(bytes, received);
            Assert.True(match, "echo through nghttpx differs from what was sent");
        }
        Assert.Equal(1, client.ConnectionCount); // all streams multiplexed on one mTLS connection
        Assert.Equal(streams, _backend.Requests.Count);
        Assert.All(_backend.Requests, head => Assert.StartsWith($"CONNECT 127.0.0.1:{_echo.EndPoint.Port} HTTP/1.1\r\n", head + "\r\n"));
        Assert.Equal(streams, _echo.Accepted);
    }

    [NghttpxFact]
    public async Task After_our_half_close_the_echo_still_arrives_through_nghttpx()
    {
        // Our END_STREAM closes only our sending side: the data sent before it must still come back. (nghttpx
        // does not pass the half-close on to its backend, so the tunnel does not end by itself afterwards.)
        const int bytes = 256 * 1024;
        await using var client = CreateClient(_clientCert, _pki.Ca, _proxyCert.Identity);
        var request = new HboneConnectRequest(_clientCert.Identity.ToString(), [_proxyCert.Identity.ToString()], _nghttpx.EndPoint, _echo.EndPoint);
        var stream = await client.ConnectAsync(request);
        var payload = new byte[bytes];
        new Random(42).NextBytes(payload);
        await stream.WriteAsync(payload); // the echo lands in our 4 MiB stream window meanwhile: no need to read concurrently
        stream.CompleteOutput();

        var echoed = new MemoryStream();
        await Task.Run(async () =>
        {
            while (echoed.Length < bytes)
            {
                var result = await stream.Input.ReadAsync();
                foreach (var segment in result.Buffer)
                    echoed.Write(segment.Span);
                stream.Input.AdvanceTo(result.Buffer.End);
                if (result.IsCompleted)
                    break;
            }
        }).WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(payload, echoed.ToArray());
        stream.Reset();
    }

    [NghttpxFact]
    public async Task A_response_ended_by_RST_STREAM_NO_ERROR_reaches_the_application_in_full()
    {
        // When its backend closes, nghttpx sends END_STREAM and then RST_STREAM(NO_ERROR) to abandon the rest of
        // the request. RFC 9113 §8.1: a client "MUST NOT discard responses as a result of receiving such a
        // RST_STREAM". Here the daemon's outbound path (TunnelRelay between an application socket and the
        // tunnel) carries a 1 MiB response to an application that reads slowly and is still sending.
        const int responseSize = 1024 * 1024;
        using var target = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        target.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        target.Listen();
        var serving = Task.Run(async () =>
        {
            using var s = await target.AcceptAsync();
            var drain = Task.Run(async () =>
            {
                var sink = new byte[64 * 1024];
                try { while (await s.ReceiveAsync(sink) > 0) { } } catch (SocketException) { }
            });
            var response = new byte[responseSize];
            new Random(7).NextBytes(response);
            await s.SendAsync(response);
            s.Shutdown(SocketShutdown.Send);
            await drain.WaitAsync(TimeSpan.FromSeconds(10));
            return response;
        });

        await using var client = CreateClient(_clientCert, _pki.Ca, _proxyCert.Identity);
        var request = new HboneConnectRequest(_clientCert.Identity.ToString(), [_proxyCert.Identity.ToString()], _nghttpx.EndPoint, (IPEndPoint)target.LocalEndPoint!);
        var stream = await client.ConnectAsync(request);

        using var appListener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        appListener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        appListener.Listen();
        using var app = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { ReceiveBufferSize = 16 * 1024 };
        await app.ConnectAsync(appListener.LocalEndPoint!);
        using var relaySide = await appListener.AcceptAsync();
        relaySide.SendBufferSize = 16 * 1024;
        var relay = TunnelRelay.RunAsync(relaySide, stream);

        using var stopSending = new CancellationTokenSource();
        var sending = Task.Run(async () =>
        {
            var chunk = new byte[1024];
            try
            {
                while (!stopSending.IsCancellationRequested)
                {
                    await app.SendAsync(chunk);
                    await Task.Delay(2);
                }
            }
            catch (SocketException) { }
        });
        var received = new MemoryStream();
        string ending = "end of stream";
        var buffer = new byte[8 * 1024];
        try
        {
            while (true)
            {
                await Task.Delay(2); // a slow reader: the response is still queued in the relay when the reset arrives
                int n = await app.ReceiveAsync(buffer.AsMemory()).AsTask().WaitAsync(TimeSpan.FromSeconds(10));
                if (n == 0)
                    break;
                received.Write(buffer, 0, n);
            }
        }
        catch (SocketException e)
        {
            ending = "socket error " + e.SocketErrorCode;
        }
        stopSending.Cancel();
        await sending;
        app.Shutdown(SocketShutdown.Send);
        var result = await relay.WaitAsync(TimeSpan.FromSeconds(5));
        output.WriteLine($"application received {received.Length} of {responseSize} bytes, then {ending}; relay: {result}");
        var expected = await serving.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.True(received.Length == responseSize,
            $"the application got {received.Length} of {responseSize} response bytes, then {ending}; the relay ended with: {result.Error ?? "no error"}");
        Assert.Equal(expected, received.ToArray());
    }

    [NghttpxFact]
    public async Task Nghttpx_refuses_a_client_certificate_from_another_CA()
    {
        using var otherDir = new TempDirectory();
        using var otherPki = new InteropPki(otherDir, "CN=Some Other Root");
        var foreign = otherPki.Issue(InteropPki.Id("default", "client"));
        // We still trust nghttpx (our root); only our certificate is foreign to it.
        await using var client = CreateClient(foreign, _pki.Ca, _proxyCert.Identity);
        var request = new HboneConnectRequest(foreign.Identity.ToString(), [_proxyCert.Identity.ToString()], _nghttpx.EndPoint, _echo.EndPoint);

        // TLS 1.3: our handshake completes before nghttpx has judged our certificate; its refusal (alert, close)
        // arrives while we wait for its SETTINGS. (Today the message then reads "failed: NotConnected", from
        // Socket.RemoteEndPoint on the already-reset socket in HboneClient.DialAsync, instead of naming the refusal.)
        var watch = Stopwatch.StartNew();
        var e = await Assert.ThrowsAsync<HboneConnectException>(async () => await client.ConnectAsync(request));
        output.WriteLine($"refused after {watch.ElapsedMilliseconds} ms: {e.Message}\ncause: {e.InnerException}");
        Assert.Null(e.Status);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(4), $"the refusal should be immediate, not a timeout ({watch.Elapsed})");
        Assert.Empty(_backend.Requests);
        Assert.Equal(0, _echo.Accepted);
    }

    [NghttpxFact]
    public async Task HboneClient_refuses_nghttpx_when_it_proves_an_unexpected_identity()
    {
        var expected = InteropPki.Id("istio-system", "some-other-gateway");
        await using var client = CreateClient(_clientCert, _pki.Ca, expected);
        var request = new HboneConnectRequest(_clientCert.Identity.ToString(), [expected.ToString()], _nghttpx.EndPoint, _echo.EndPoint);

        var e = await Assert.ThrowsAsync<HboneConnectException>(async () => await client.ConnectAsync(request));
        output.WriteLine(e.Message);
        Assert.Contains("TLS", e.Message, StringComparison.Ordinal);
        Assert.Empty(_backend.Requests);
        Assert.Equal(0, _echo.Accepted);
    }

    private HboneClient CreateClient(WorkloadCertificate certificate, MeshCa trusted, SpiffeId expectedServer)
    {
        var options = new HboneClientOptions
        {
            ConnectTimeout = TimeSpan.FromSeconds(5),
            ResponseTimeout = TimeSpan.FromSeconds(5),
            Logger = _log,
        };
        return new HboneClient(options, (_, _) => ValueTask.FromResult<SslClientAuthenticationOptions>(
            MeshTls.CreateClientOptions(certificate, trusted.RootCertificate, [expectedServer], _log)));
    }

    /// <summary>
    /// Sends <paramref name="bytes"/> pseudo-random bytes while reading the same number back, both at once (flow
    /// control would deadlock a write-then-read), then resets the stream: no half-close is involved.
    /// </summary>
    private static async Task<(long Sent, long Received, bool Match)> EchoAsync(Http2Stream stream, int bytes, int seed)
    {
        var payload = new byte[bytes];
        new Random(seed).NextBytes(payload);
        var expected = SHA256.HashData(payload);

        var send = Task.Run(async () =>
        {
            for (int offset = 0; offset < bytes; offset += 32 * 1024)
                await stream.WriteAsync(payload.AsMemory(offset, Math.Min(32 * 1024, bytes - offset)));
        });
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        long received = 0;
        while (received < bytes)
        {
            var result = await stream.Input.ReadAsync();
            var buffer = result.Buffer;
            if (buffer.Length > bytes - received)
                buffer = buffer.Slice(0, bytes - received);
            foreach (var segment in buffer)
                hash.AppendData(segment.Span);
            received += buffer.Length;
            stream.Input.AdvanceTo(buffer.End);
            if (result.IsCompleted && received < bytes)
                break;
        }
        await send;
        stream.Reset();
        return (bytes, received, hash.GetHashAndReset().AsSpan().SequenceEqual(expected));
    }
}

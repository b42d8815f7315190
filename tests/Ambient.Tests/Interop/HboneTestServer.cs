using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Ambient.Hbone;
using Ambient.Http2;
using Ambient.Identity;
using Microsoft.Extensions.Logging;

namespace Ambient.Tests.Interop;

/// <summary>What the test server decided for one HBONE stream.</summary>
public sealed record HboneStreamRecord(string Method, string? Authority, string? PeerIdentity, int Status, RelayResult? Relay);

/// <summary>
/// Our HBONE server on 127.0.0.1 with the same stream handling as the daemon's inbound path
/// (daemon/Proxy/InboundHbone.cs) minus config and authorization: non-CONNECT → 400, a bad or foreign
/// <c>:authority</c> → 400, upstream refused → 503, else 200 and <see cref="TunnelRelay"/> to the target.
/// </summary>
public sealed class HboneTestServer : IAsyncDisposable
{
    private readonly Socket _listener = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentDictionary<Task, bool> _connections = new();
    private readonly WorkloadCertificate _certificate;
    private readonly MeshCa _ca;
    private readonly ILogger _log;
    private readonly Task _accepting;

    public HboneTestServer(WorkloadCertificate certificate, MeshCa ca, ILogger log)
    {
        _certificate = certificate;
        _ca = ca;
        _log = log;
        _listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        _listener.Listen(128);
        EndPoint = (IPEndPoint)_listener.LocalEndPoint!;
        _accepting = AcceptLoopAsync();
    }

    public IPEndPoint EndPoint { get; }

    /// <summary>One entry per stream, written when the handler finishes.</summary>
    public ConcurrentQueue<HboneStreamRecord> Streams { get; } = new();

    /// <summary>Peer identities of connections whose handshake succeeded.</summary>
    public ConcurrentQueue<string?> VerifiedPeers { get; } = new();

    /// <summary>Why handshakes were refused (our verifier's reason when it had one).</summary>
    public ConcurrentQueue<string> HandshakeFailures { get; } = new();

    private async Task AcceptLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket socket;
            try { socket = await _listener.AcceptAsync(_stop.Token).ConfigureAwait(false); }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException) { return; }
            var task = ServeConnectionAsync(socket);
            _connections[task] = true;
            _ = task.ContinueWith(t => _connections.TryRemove(t, out _), TaskScheduler.Default);
        }
    }

    private Task ServeConnectionAsync(Socket socket)
    {
        var verification = new TlsPeerVerification(socket.RemoteEndPoint);
        var tls = MeshTls.CreateServerOptions(_certificate, _ca.RootCertificate, InteropPki.TrustDomain, _log, verification);
        return HboneServer.ServeAsync(
            socket,
            tls,
            stream =>
            {
                var id = MeshTls.GetPeerIdentity(stream)?.ToString();
                VerifiedPeers.Enqueue(id);
                return id;
            },
            HandleAsync,
            Http2ConnectionOptions.Server with { Logger = _log },
            _log,
            e =>
            {
                var reason = verification.Describe(e);
                HandshakeFailures.Enqueue(reason);
                return reason;
            },
            _stop.Token);
    }

    private async Task HandleAsync(HboneRequest request)
    {
        int status = 200;
        RelayResult? relay = null;
        try
        {
            if (request.Method != "CONNECT" || request.Target is null || !request.Target.Address.Equals(request.LocalEndPoint.Address))
            {
                status = 400;
                return;
            }
            using var upstream = new Socket(request.Target.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                await upstream.ConnectAsync(request.Target, timeout.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is SocketException or OperationCanceledException)
            {
                status = 503;
                return;
            }
            await request.RespondAsync(200).ConfigureAwait(false);
            relay = await TunnelRelay.RunAsync(upstream, request.Stream).ConfigureAwait(false);
        }
        finally
        {
            if (status != 200)
            {
                try { await request.RespondAsync(status).ConfigureAwait(false); }
                catch (Exception e) when (e is IOException or InvalidOperationException) { }
            }
            _log.LogInformation("stream {Method} {Authority} from {Peer}: {Status} {Relay}", request.Method, request.Authority, request.PeerIdentity, status, relay);
            Streams.Enqueue(new HboneStreamRecord(request.Method, request.Authority, request.PeerIdentity, status, relay));
        }
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _listener.Dispose();
        await _accepting.ConfigureAwait(false);
        await Task.WhenAll(_connections.Keys).WaitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
        _stop.Dispose();
    }
}

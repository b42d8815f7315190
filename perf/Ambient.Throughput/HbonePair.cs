using System.Net;
using System.Net.Sockets;
using Ambient.Hbone;
using Ambient.Http2;
using Ambient.Identity;
using Microsoft.Extensions.Logging.Abstractions;

namespace Ambient.Throughput;

/// <summary>
/// The mesh library without the daemon around it: a plain TCP "outbound" listener that opens an HBONE stream
/// with <see cref="HboneClient"/> for each accepted connection and relays with <see cref="TunnelRelay"/>, and an
/// <see cref="HboneServer"/> whose handler dials the sink and relays, as daemon/Proxy/InboundHbone.cs does
/// (minus routing, authorization, SOCKS5 and access logs). Tells the library's cost apart from the daemon's.
/// </summary>
internal sealed class HbonePair : IAsyncDisposable
{
    private const string TrustDomain = "cluster.local";
    private static readonly SpiffeId ClientId = SpiffeId.Parse("spiffe://cluster.local/ns/bench/sa/client");
    private static readonly SpiffeId ServerId = SpiffeId.Parse("spiffe://cluster.local/ns/bench/sa/server");

    private readonly MeshCa _ca = MeshCa.Create();
    private readonly WorkloadCertificate _clientCert;
    private readonly WorkloadCertificate _serverCert;
    private readonly Socket _hboneListener;
    private readonly Socket _outboundListener;
    private readonly HboneClient _client;
    private readonly IPEndPoint _target;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _hboneLoop;
    private readonly Task _outboundLoop;

    public HbonePair(IPAddress serverAddress, IPEndPoint target)
    {
        var now = DateTimeOffset.UtcNow;
        _clientCert = _ca.Issue(ClientId, now - TimeSpan.FromMinutes(1), now + TimeSpan.FromHours(1));
        _serverCert = _ca.Issue(ServerId, now - TimeSpan.FromMinutes(1), now + TimeSpan.FromHours(1));
        _target = target;
        _hboneListener = Listen(new IPEndPoint(serverAddress, 0));
        _outboundListener = Listen(new IPEndPoint(IPAddress.Loopback, 0));
        _client = new HboneClient(new HboneClientOptions(), (_, _) =>
            ValueTask.FromResult(MeshTls.CreateClientOptions(_clientCert, _ca.RootCertificate, [ServerId], NullLogger.Instance)));
        _hboneLoop = AcceptLoopAsync(_hboneListener, ServeHboneAsync);
        _outboundLoop = AcceptLoopAsync(_outboundListener, ServeOutboundAsync);
    }

    /// <summary>Where a client connects to be tunnelled to the target (like a captured outbound connection).</summary>
    public IPEndPoint OutboundEndPoint => (IPEndPoint)_outboundListener.LocalEndPoint!;

    private static Socket Listen(IPEndPoint endpoint)
    {
        var socket = new Socket(endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(endpoint);
        socket.Listen(1024);
        return socket;
    }

    private async Task AcceptLoopAsync(Socket listener, Func<Socket, Task> handler)
    {
        while (true)
        {
            Socket socket;
            try { socket = await listener.AcceptAsync(_stop.Token).ConfigureAwait(false); }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException) { return; }
            _ = Task.Run(() => handler(socket));
        }
    }

    private Task ServeHboneAsync(Socket socket)
    {
        var options = MeshTls.CreateServerOptions(_serverCert, _ca.RootCertificate, TrustDomain, NullLogger.Instance);
        return HboneServer.ServeAsync(socket, options, tls => MeshTls.GetPeerIdentity(tls)?.ToString(), HandleStreamAsync,
            Http2ConnectionOptions.Server, NullLogger.Instance, cancellationToken: _stop.Token);
    }

    private static async Task HandleStreamAsync(HboneRequest request)
    {
        if (request.Method != "CONNECT" || request.Target is null)
        {
            await request.RespondAsync(400).ConfigureAwait(false);
            return;
        }
        using var upstream = new Socket(request.Target.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await upstream.ConnectAsync(request.Target).ConfigureAwait(false);
        }
        catch (SocketException)
        {
            await request.RespondAsync(503).ConfigureAwait(false);
            return;
        }
        await request.RespondAsync(200).ConfigureAwait(false);
        await TunnelRelay.RunAsync(upstream, request.Stream).ConfigureAwait(false);
    }

    private async Task ServeOutboundAsync(Socket client)
    {
        using (client)
        {
            client.NoDelay = true;
            var hbone = (IPEndPoint)_hboneListener.LocalEndPoint!;
            try
            {
                var stream = await _client.ConnectAsync(new HboneConnectRequest(ClientId.ToString(), [ServerId.ToString()], hbone, _target,
                    (IPEndPoint)client.RemoteEndPoint!)).ConfigureAwait(false);
                await TunnelRelay.RunAsync(client, stream).ConfigureAwait(false);
            }
            catch (HboneConnectException)
            {
                client.LingerState = new LingerOption(true, 0);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _hboneListener.Dispose();
        _outboundListener.Dispose();
        await Task.WhenAll(_hboneLoop, _outboundLoop).ConfigureAwait(false);
        await _client.DisposeAsync().ConfigureAwait(false);
        _ca.Dispose();
    }
}

/// <summary>A client of <see cref="HbonePair"/>: connecting to its outbound listener is connecting to the sink.</summary>
internal sealed class HbonePairPath(IPEndPoint outbound) : ClientPath
{
    public override string Name => "HBONE pair (library only)";

    public override async Task<Socket> ConnectAsync(CancellationToken ct)
    {
        var socket = NewSocket(outbound.AddressFamily);
        try
        {
            await socket.ConnectAsync(outbound, ct).ConfigureAwait(false);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }
}

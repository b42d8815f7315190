using System.Net;
using System.Net.Sockets;
using Ambient.Config;
using Ambient.Daemon.Net;
using Ambient.Hbone;
using Ambient.Identity;
using Microsoft.Extensions.Logging;

namespace Ambient.Daemon.Proxy;

/// <summary>
/// The listeners that speak for one local workload, bound on its address: HBONE (15008), captured outbound
/// (15001), inbound plaintext (15006) and SOCKS5 outbound (15080) for hosts without interception.
/// </summary>
public sealed class WorkloadListeners : IAsyncDisposable
{
    private readonly ProxyContext _context;
    private readonly ILogger _log;
    private readonly List<Listener> _listeners = new();
    private readonly Outbound _outbound;
    private readonly InboundHbone _inbound;
    private readonly InboundPlaintext _plaintext;

    private readonly SocketPlacement _placement;

    public WorkloadListeners(ProxyContext context, Workload workload, SocketPlacement? placement = null)
    {
        _context = context;
        Workload = workload;
        _placement = placement ?? SocketPlacement.Host;
        _log = context.Logs.CreateLogger("workload");
        _outbound = new Outbound(context, _placement);
        _inbound = new InboundHbone(context, _placement);
        _plaintext = new InboundPlaintext(context, _placement);
    }

    public Workload Workload { get; private set; }

    /// <summary>The address the listeners are bound to (the workload's first address).</summary>
    public IPAddress Address => Workload.Addresses[0];

    /// <summary>A config update that keeps the address only refreshes the workload's details.</summary>
    public void Update(Workload workload) => Workload = workload;

    public async Task StartAsync()
    {
        var o = _context.Options;
        // Issue the workload certificate before accepting, so the first connection pays no signing.
        await _context.Certificates.GetAsync(_context.Spiffe(Workload.Identity)).ConfigureAwait(false);
        try
        {
            var bind = _placement.ListenAddress(Address);
            string name = $"{Workload.Namespace}/{Workload.Name}";
            _listeners.Add(Listener.Start(new IPEndPoint(bind, o.HbonePort), $"hbone {name}", ServeHboneAsync, _log, _placement));
            if (o.OutboundPort != 0)
                _listeners.Add(Listener.Start(new IPEndPoint(bind, o.OutboundPort), $"outbound {name}", ServeCapturedAsync, _log, _placement));
            if (o.InboundPlaintextPort != 0)
                _listeners.Add(Listener.Start(new IPEndPoint(bind, o.InboundPlaintextPort), $"inbound-plaintext {name}", s => _plaintext.HandleAsync(s, Workload), _log, _placement));
            if (o.Socks5Port != 0 && _placement == SocketPlacement.Host) // a pod's applications are captured instead
                _listeners.Add(Listener.Start(new IPEndPoint(bind, o.Socks5Port), $"socks5 {name}", ServeSocks5Async, _log, _placement));
        }
        catch
        {
            await DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    private async Task ServeHboneAsync(Socket socket)
    {
        var cert = await _context.Certificates.GetAsync(_context.Spiffe(Workload.Identity)).ConfigureAwait(false);
        var verification = new TlsPeerVerification(socket.RemoteEndPoint);
        var options = MeshTls.CreateServerOptions(cert, _context.Root, _context.Config.Current.TrustDomain, _context.TlsLog, verification);
        await HboneServer.ServeAsync(socket, options,
            tls => MeshTls.GetPeerIdentity(tls)?.ToString(),
            _inbound.HandleAsync,
            _context.Http2Server,
            _log,
            verification.Describe,
            drain: _context.Draining).ConfigureAwait(false);
    }

    private Task ServeCapturedAsync(Socket client)
    {
        var destination = OriginalDestination.Get(client);
        if (destination is null)
        {
            _log.LogWarning("outbound connection from {Client} refused: not redirected (no original destination); without interception use the SOCKS5 port {Port}",
                client.RemoteEndPoint, _context.Options.Socks5Port);
            client.Dispose();
            return Task.CompletedTask;
        }
        return _outbound.HandleAsync(client, Workload, destination);
    }

    private async Task ServeSocks5Async(Socket client)
    {
        var buffer = new byte[512];
        int length = 0;
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            int used;
            bool noAuth;
            while ((used = Socks5.ParseGreeting(buffer.AsSpan(0, length), out noAuth)) == 0)
                length += await ReceiveSomeAsync(client, buffer, length, timeout.Token).ConfigureAwait(false);
            if (!noAuth)
            {
                await client.SendAsync(new byte[] { Socks5.Version, Socks5.NoAcceptableMethod }, SocketFlags.None).ConfigureAwait(false);
                throw new FormatException("SOCKS5 client offers no 'no authentication' method");
            }
            await client.SendAsync(new byte[] { Socks5.Version, Socks5.NoAuthentication }, SocketFlags.None).ConfigureAwait(false);
            Buffer.BlockCopy(buffer, used, buffer, 0, length - used);
            length -= used;
            Socks5.Target target;
            while ((used = Socks5.ParseRequest(buffer.AsSpan(0, length), out target)) == 0)
                length += await ReceiveSomeAsync(client, buffer, length, timeout.Token).ConfigureAwait(false);
            IPEndPoint destination;
            if (target.Address is not null)
            {
                destination = new IPEndPoint(target.Address, target.Port);
            }
            else
            {
                var service = _context.Config.Current.ServiceByHostname(target.Host!);
                if (service is null || service.Vips.IsEmpty)
                    throw new Socks5Exception(Socks5.Reply.HostUnreachable, $"no service with hostname {target.Host}");
                destination = new IPEndPoint(service.Vips[0], target.Port);
            }
            await _outbound.HandleAsync(client, Workload, destination, async ok =>
            {
                var reply = new byte[10];
                Socks5.WriteReply(reply, ok ? Socks5.Reply.Succeeded : Socks5.Reply.ConnectionRefused);
                try { await client.SendAsync(reply, SocketFlags.None).ConfigureAwait(false); }
                catch (Exception e) when (e is SocketException or ObjectDisposedException) { }
            }).ConfigureAwait(false);
        }
        catch (Socks5Exception e)
        {
            _log.LogWarning("SOCKS5 request from {Client} refused: {Reason}", client.RemoteEndPoint, e.Message);
            var reply = new byte[10];
            Socks5.WriteReply(reply, e.Reply);
            try { await client.SendAsync(reply, SocketFlags.None).ConfigureAwait(false); } catch (SocketException) { }
            client.Dispose();
        }
        catch (Exception e) when (e is FormatException or SocketException or OperationCanceledException or IOException)
        {
            _log.LogWarning("SOCKS5 connection from {Client} failed: {Reason}", client.RemoteEndPoint, e.Message);
            client.Dispose();
        }
    }

    private static async Task<int> ReceiveSomeAsync(Socket client, byte[] buffer, int offset, CancellationToken ct)
    {
        if (offset == buffer.Length)
            throw new FormatException("SOCKS5 handshake too long");
        int n = await client.ReceiveAsync(buffer.AsMemory(offset), SocketFlags.None, ct).ConfigureAwait(false);
        return n == 0 ? throw new IOException("client closed during the SOCKS5 handshake") : n;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var l in _listeners)
            await l.DisposeAsync().ConfigureAwait(false);
        _listeners.Clear();
    }
}

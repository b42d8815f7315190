using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Ambient.Hbone;
using Ambient.Http2;
using Ambient.Identity;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Logging;

namespace Ambient.Waypoint.Transport;

/// <summary>
/// One HBONE port: accepts TCP, serves each socket with <see cref="HboneServer"/> (mTLS, HTTP/2 limits), admits
/// CONNECT streams, sniffs each tunnel's first bytes and queues it as a <see cref="TunnelConnection"/> on the
/// HTTP/1 or HTTP/2 <see cref="HboneTunnelListener"/>. Shared by those two Kestrel endpoints; closed by the
/// factory when both are gone.
/// </summary>
internal sealed class HboneTunnelAcceptor : IAsyncDisposable
{
    /// <summary>How long a tunnel may sit on a partial HTTP/2 preface before it is reset.</summary>
    private static readonly TimeSpan SniffTimeout = TimeSpan.FromSeconds(10);

    private readonly Socket _socket;
    private readonly HboneTransportOptions _options;
    private readonly ILogger _log;
    private readonly Http2ConnectionOptions _http2Options;
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentDictionary<Task, byte> _connections = new();
    /// <summary>HBONE connections that carried a tunnel, to GOAWAY at unbind so peers' pools move on.</summary>
    private readonly ConcurrentDictionary<Http2Connection, byte> _carrying = new();
    private readonly Task _acceptLoop;
    private volatile HboneTunnelListener? _http1;
    private volatile HboneTunnelListener? _http2;

    public HboneTunnelAcceptor(IPEndPoint address, HboneTransportOptions options)
    {
        _options = options;
        _log = options.Logger;
        _http2Options = options.Http2 with { Logger = _log }; // once, not per connection
        _socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            _socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
            _socket.Bind(address);
            _socket.Listen(options.Backlog);
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.AddressAlreadyInUse)
        {
            _socket.Dispose();
            throw new AddressInUseException(e.Message, e);
        }
        catch
        {
            _socket.Dispose();
            throw;
        }
        Address = (IPEndPoint)_socket.LocalEndPoint!;
        _acceptLoop = AcceptSocketsAsync();
    }

    /// <summary>The bound address (the real port when asked for port 0).</summary>
    public IPEndPoint Address { get; }

    /// <summary>Creates the Kestrel listener for one half; Kestrel binds each half once.</summary>
    public HboneTunnelListener Attach(HttpProtocols protocol, Func<ValueTask> release)
    {
        var listener = new HboneTunnelListener(new HboneListenEndPoint(Address, protocol), OnUnbound, release);
        if (protocol == HttpProtocols.Http2)
            _http2 = listener;
        else
            _http1 = listener;
        return listener;
    }

    /// <summary>Once no half takes tunnels, stop taking connections; tunnels already accepted keep running.</summary>
    private void OnUnbound()
    {
        if (_http1 is not { IsAccepting: true } && _http2 is not { IsAccepting: true })
        {
            _socket.Dispose();
            // GOAWAY: peers open no new tunnels here, and the tunnels Kestrel is still draining finish normally.
            foreach (var connection in _carrying.Keys)
                connection.Drain();
        }
    }

    private async Task AcceptSocketsAsync()
    {
        while (true)
        {
            Socket socket;
            try
            {
                socket = await _socket.AcceptAsync(_stop.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException { SocketErrorCode: SocketError.OperationAborted or SocketError.Interrupted })
            {
                return;
            }
            catch (SocketException e)
            {
                _log.LogWarning("HBONE accept on {Address} failed: {Error}", Address, e.SocketErrorCode);
                continue; // e.g. reset before accept; keep listening
            }
            var served = ServeAsync(socket);
            _connections[served] = 0;
            _ = served.ContinueWith(static (t, s) => ((ConcurrentDictionary<Task, byte>)s!).TryRemove(t, out _), _connections, TaskScheduler.Default);
        }
    }

    private Task ServeAsync(Socket socket)
    {
        var verification = new TlsPeerVerification(socket.RemoteEndPoint);
        return HboneServer.ServeAsync(
            socket,
            _options.ServerTls(verification),
            static tls => MeshTls.GetPeerIdentity(tls)?.ToString(),
            HandleStreamAsync,
            _http2Options,
            _log,
            verification.Describe,
            _stop.Token);
    }

    /// <summary>One CONNECT: admit or refuse, answer 200, sniff, queue for Kestrel, and hold the stream until Kestrel is done.</summary>
    private async Task HandleStreamAsync(HboneRequest request)
    {
        var carrier = request.Stream.Connection;
        if (_carrying.TryAdd(carrier, 0))
            _ = ForgetWhenClosedAsync(carrier);
        int status = _options.Admit is { } admit ? await admit(request).ConfigureAwait(false) : HboneTransportOptions.DefaultAdmit(request);
        if (status == 200 && request.Target is null)
            status = 400; // the hook admitted a CONNECT without an ip:port target; Kestrel needs one
        if (status == 200 && _http1 is not { IsAccepting: true })
            status = 503; // stopping (or not started)
        if (status != 200)
        {
            _log.LogInformation("HBONE tunnel {Method} {Authority} from {Peer} ({Identity}) refused: {Status}", request.Method, request.Authority, request.RemoteEndPoint, request.PeerIdentity, status);
            await TryRespondAsync(request, status).ConfigureAwait(false);
            return;
        }
        if (!await TryRespondAsync(request, 200).ConfigureAwait(false))
            return;
        var listener = await SelectListenerAsync(request).ConfigureAwait(false);
        if (listener is null)
            return;
        var connection = new TunnelConnection(request);
        connection.Start();
        _log.LogDebug("HBONE tunnel {Id} to {Target} from {Identity} ({Peer}) accepted", connection.ConnectionId, request.Target, request.PeerIdentity, request.RemoteEndPoint);
        if (!listener.TryQueue(connection))
        {
            // Unbound since the check above: nobody will serve it.
            connection.Abort(new ConnectionAbortedException("HBONE listener stopped"));
            await connection.DisposeAsync().ConfigureAwait(false);
            return;
        }
        await connection.Completion.ConfigureAwait(false);
    }

    /// <summary>False when the peer reset the stream (or lost the connection) while we decided.</summary>
    private static async ValueTask<bool> TryRespondAsync(HboneRequest request, int status)
    {
        try
        {
            await request.RespondAsync(status).ConfigureAwait(false);
            return true;
        }
        catch (Exception e) when (e is IOException or InvalidOperationException)
        {
            return false;
        }
    }

    private async Task<HboneTunnelListener?> SelectListenerAsync(HboneRequest request)
    {
        bool http2;
        using (var timeout = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token))
        {
            timeout.CancelAfter(SniffTimeout);
            try
            {
                http2 = await Http2Preface.IsHttp2Async(request.Stream.Input, timeout.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or IOException)
            {
                request.Stream.Reset(); // stalled inside a preface, or the peer gave up
                return null;
            }
        }
        // Without an HTTP/2 endpoint the HTTP/1 one answers a preface with GOAWAY HTTP_1_1_REQUIRED, as Kestrel would.
        return http2 && _http2 is { IsAccepting: true } h2 ? h2 : _http1;
    }

    private async Task ForgetWhenClosedAsync(Http2Connection connection)
    {
        await Task.WhenAny(connection.Completion).ConfigureAwait(false); // never throws
        _carrying.TryRemove(connection, out _);
    }

    public async ValueTask DisposeAsync()
    {
        _socket.Dispose();
        // Kestrel has closed (or given up on) its connections: end the HBONE connections under them.
        _stop.Cancel();
        await _acceptLoop.ConfigureAwait(false);
        try
        {
            await Task.WhenAll(_connections.Keys).WaitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            _log.LogWarning("HBONE connections on {Address} still open 5 s after stop", Address);
        }
        _stop.Dispose();
    }
}

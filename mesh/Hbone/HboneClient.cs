using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using Ambient.Http2;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Ambient.Hbone;

/// <summary>
/// Pool key (DESIGN.md §3): connections are shared only between tunnels with the same source identity, the
/// same acceptable destination identities, the same HBONE address and the same source IP.
/// </summary>
public readonly record struct HbonePoolKey(string SourceIdentity, string DestinationIdentities, IPEndPoint HboneEndpoint, IPAddress? SourceIp);

/// <summary>One tunnel to open: who we are, whom we expect, where to dial, and what to CONNECT to.</summary>
public sealed record HboneConnectRequest(
    string SourceIdentity,
    IReadOnlyList<string> DestinationIdentities,
    IPEndPoint HboneEndpoint,
    IPEndPoint Target,
    IPEndPoint? OriginalClient = null,
    IPAddress? SourceIp = null)
{
    public HbonePoolKey PoolKey => new(SourceIdentity, string.Join(',', DestinationIdentities), HboneEndpoint, SourceIp);
}

public sealed record HboneClientOptions
{
    /// <summary>TCP connect + TLS handshake + the server's SETTINGS.</summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(10);
    /// <summary>How long to wait for the CONNECT answer (the server dials upstream first).</summary>
    public TimeSpan ResponseTimeout { get; init; } = TimeSpan.FromSeconds(15);
    /// <summary>Connections with no stream for this long are closed.</summary>
    public TimeSpan IdleTimeout { get; init; } = TimeSpan.FromMinutes(5);
    public int MaxStreamsPerConnection { get; init; } = 100;
    public ILogger Logger { get; init; } = NullLogger.Instance;
    /// <summary>Creates (and, in-pod, places) the outgoing socket; defaults to a plain TCP socket.</summary>
    public Func<HbonePoolKey, Socket>? SocketFactory { get; init; }
}

/// <summary>
/// Opens HBONE tunnels: a pooled mTLS HTTP/2 connection per key, up to 100 CONNECT streams each, new
/// connections when full, idle ones released. Concurrent first requests share a connection being set up
/// instead of each dialling their own.
/// </summary>
public sealed class HboneClient : IAsyncDisposable
{
    private readonly HboneClientOptions _options;
    private readonly Func<HbonePoolKey, CancellationToken, ValueTask<SslClientAuthenticationOptions>> _tls;
    private readonly ILogger _log;
    private readonly object _sync = new();
    private readonly Dictionary<HbonePoolKey, PoolEntry> _pool = new();
    private readonly Timer _reaper;
    private bool _disposed;

    public HboneClient(HboneClientOptions options, Func<HbonePoolKey, CancellationToken, ValueTask<SslClientAuthenticationOptions>> tls)
    {
        _options = options;
        _tls = tls;
        _log = options.Logger;
        var period = options.IdleTimeout < TimeSpan.FromSeconds(30) ? options.IdleTimeout : TimeSpan.FromSeconds(30);
        _reaper = new Timer(static s => ((HboneClient)s!).ReapIdle(), this, period, period);
    }

    /// <summary>Pooled connections, for metrics and tests.</summary>
    public int ConnectionCount
    {
        get { lock (_sync) { int n = 0; foreach (var e in _pool.Values) n += e.Connections.Count; return n; } }
    }

    /// <summary>Opens a tunnel and returns its stream once the server answered 200.</summary>
    public async ValueTask<Http2Stream> ConnectAsync(HboneConnectRequest request, CancellationToken cancellationToken = default)
    {
        var headers = HboneHeaders.Connect(request.Target, request.OriginalClient);
        var key = request.PoolKey;
        for (int attempt = 0; ; attempt++)
        {
            var stream = await OpenStreamAsync(key, headers, cancellationToken).ConfigureAwait(false);
            IReadOnlyList<HeaderField> response;
            try
            {
                response = await stream.ResponseHeaders.WaitAsync(_options.ResponseTimeout, cancellationToken).ConfigureAwait(false);
            }
            catch (Http2StreamResetException e) when (e.Code == Http2.Frames.Http2ErrorCode.RefusedStream && attempt < 2)
            {
                continue; // refused before processing (limit or GOAWAY): safe to retry on another connection
            }
            catch (TimeoutException)
            {
                stream.Reset();
                throw new HboneConnectException($"no CONNECT answer from {request.HboneEndpoint} within {_options.ResponseTimeout.TotalSeconds:0} s");
            }
            catch (Http2StreamResetException e)
            {
                throw new HboneConnectException($"CONNECT to {request.Target} via {request.HboneEndpoint} reset: {e.Message}", null, e);
            }
            var status = HeaderRules.Get(response, ":status");
            if (status != "200")
            {
                stream.Reset();
                throw new HboneConnectException($"CONNECT to {request.Target} via {request.HboneEndpoint} answered {status}", int.TryParse(status, out var s) ? s : null);
            }
            return stream;
        }
    }

    private async ValueTask<Http2Stream> OpenStreamAsync(HbonePoolKey key, HeaderField[] headers, CancellationToken ct)
    {
        while (true)
        {
            PendingConnection pending;
            lock (_sync)
            {
                ObjectDisposedException.ThrowIf(_disposed, this);
                if (!_pool.TryGetValue(key, out var entry))
                    _pool[key] = entry = new PoolEntry();
                for (int i = entry.Connections.Count - 1; i >= 0; i--)
                {
                    var c = entry.Connections[i];
                    if (c.Completion.IsCompleted)
                    {
                        entry.Connections.RemoveAt(i);
                        continue;
                    }
                    if (c.TryOpenStream(headers) is { } stream)
                        return stream;
                }
                pending = ClaimPendingLocked(key, entry);
            }
            var connection = await pending.Task.WaitAsync(ct).ConfigureAwait(false);
            if (connection.TryOpenStream(headers) is { } opened)
                return opened;
            // Filled up (or went away) between set-up and our turn: look again.
        }
    }

    private PendingConnection ClaimPendingLocked(HbonePoolKey key, PoolEntry entry)
    {
        foreach (var p in entry.Pending)
        {
            if (p.Claims < _options.MaxStreamsPerConnection)
            {
                p.Claims++;
                return p;
            }
        }
        var created = new PendingConnection();
        created.Claims = 1;
        created.Task = EstablishAsync(key, entry, created);
        entry.Pending.Add(created);
        return created;
    }

    private async Task<Http2Connection> EstablishAsync(HbonePoolKey key, PoolEntry entry, PendingConnection pending)
    {
        await Task.Yield();
        try
        {
            var connection = await DialAsync(key).ConfigureAwait(false);
            lock (_sync)
                entry.Connections.Add(connection);
            return connection;
        }
        finally
        {
            lock (_sync)
                entry.Pending.Remove(pending);
        }
    }

    private async Task<Http2Connection> DialAsync(HbonePoolKey key)
    {
        using var timeout = new CancellationTokenSource(_options.ConnectTimeout);
        var socket = _options.SocketFactory?.Invoke(key) ?? new Socket(key.HboneEndpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        SslStream? tls = null;
        try
        {
            socket.NoDelay = true;
            if (key.SourceIp is not null && !socket.IsBound)
                socket.Bind(new IPEndPoint(key.SourceIp, 0));
            await socket.ConnectAsync(key.HboneEndpoint, timeout.Token).ConfigureAwait(false);
            // Read now: after a TLS 1.3 handshake the peer may already have closed (refusing our certificate).
            var info = new Http2ConnectionInfo(socket.LocalEndPoint, socket.RemoteEndPoint, key.DestinationIdentities);
            tls = new SslStream(new NetworkStream(socket, ownsSocket: true), leaveInnerStreamOpen: false);
            var tlsOptions = await _tls(key, timeout.Token).ConfigureAwait(false);
            await tls.AuthenticateAsClientAsync(tlsOptions, timeout.Token).ConfigureAwait(false);
            if (tls.NegotiatedApplicationProtocol != SslApplicationProtocol.Http2)
                throw new HboneConnectException($"{key.HboneEndpoint} did not negotiate ALPN h2");
            var options = Http2ConnectionOptions.Client with { MaxLocalStreams = _options.MaxStreamsPerConnection, Logger = _log };
            var connection = new Http2Connection(tls, options, info);
            _ = RunConnectionAsync(connection, key);
            await connection.Ready.WaitAsync(timeout.Token).ConfigureAwait(false);
            _log.LogDebug("HBONE connection to {Endpoint} as {Source} established", key.HboneEndpoint, key.SourceIdentity);
            return connection;
        }
        catch (Exception e)
        {
            if (tls is not null) await tls.DisposeAsync().ConfigureAwait(false); else socket.Dispose();
            var message = e switch
            {
                OperationCanceledException => $"HBONE connect to {key.HboneEndpoint} timed out after {_options.ConnectTimeout.TotalSeconds:0} s",
                SocketException s => $"HBONE connect to {key.HboneEndpoint} failed: {s.SocketErrorCode}",
                System.Security.Authentication.AuthenticationException a => $"HBONE TLS to {key.HboneEndpoint} failed: {a.Message}",
                HboneConnectException h => h.Message,
                _ => $"HBONE connect to {key.HboneEndpoint} failed: {e.Message}",
            };
            throw new HboneConnectException(message, null, e);
        }
    }

    private async Task RunConnectionAsync(Http2Connection connection, HbonePoolKey key)
    {
        try
        {
            await connection.RunAsync().ConfigureAwait(false);
        }
        catch (Exception e)
        {
            _log.LogDebug(e, "HBONE connection to {Endpoint} failed", key.HboneEndpoint);
        }
        lock (_sync)
        {
            if (_pool.TryGetValue(key, out var entry))
            {
                entry.Connections.Remove(connection);
                if (entry.Connections.Count == 0 && entry.Pending.Count == 0)
                    _pool.Remove(key);
            }
        }
    }

    private void ReapIdle()
    {
        long now = Environment.TickCount64;
        List<Http2Connection>? idle = null;
        lock (_sync)
        {
            foreach (var entry in _pool.Values)
                foreach (var c in entry.Connections)
                    if (c.ActiveLocalStreams == 0 && now - c.LastActivity >= _options.IdleTimeout.TotalMilliseconds)
                        (idle ??= new()).Add(c);
        }
        if (idle is null)
            return;
        foreach (var c in idle)
        {
            _log.LogDebug("closing idle HBONE connection to {Remote}", c.Info.RemoteEndPoint);
            c.Drain();
        }
    }

    public async ValueTask DisposeAsync()
    {
        List<Http2Connection> all = new();
        lock (_sync)
        {
            _disposed = true;
            foreach (var e in _pool.Values)
                all.AddRange(e.Connections);
            _pool.Clear();
        }
        await _reaper.DisposeAsync().ConfigureAwait(false);
        // Say goodbye (GOAWAY) and give idle connections a moment to close cleanly before cutting the rest.
        var closing = new List<Task>(all.Count);
        foreach (var c in all)
        {
            c.Drain();
            closing.Add(c.Completion);
        }
        await Task.WhenAny(Task.WhenAll(closing), Task.Delay(TimeSpan.FromSeconds(1))).ConfigureAwait(false);
        foreach (var c in all)
            await c.DisposeAsync().ConfigureAwait(false);
    }

    private sealed class PoolEntry
    {
        public readonly List<Http2Connection> Connections = new();
        public readonly List<PendingConnection> Pending = new();
    }

    private sealed class PendingConnection
    {
        public int Claims;
        public Task<Http2Connection> Task = null!;
    }
}

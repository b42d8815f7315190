using System.Net;
using System.Threading.Channels;
using Microsoft.AspNetCore.Connections;

namespace Ambient.Waypoint.Transport;

/// <summary>
/// What Kestrel accepts from for one half (HTTP/1 or HTTP/2) of an HBONE port: tunnels queued by the
/// <see cref="HboneTunnelAcceptor"/>. Unbinding stops new tunnels for this half; disposing releases the port.
/// </summary>
internal sealed class HboneTunnelListener(HboneListenEndPoint endPoint, Action unbound, Func<ValueTask> release) : IConnectionListener
{
    // Unbounded: a tunnel is queued only once admitted, the per-connection HTTP/2 stream limit bounds how many one
    // peer can have waiting, and Kestrel's accept loop drains the queue as fast as tunnels arrive.
    private readonly Channel<TunnelConnection> _queue = Channel.CreateUnbounded<TunnelConnection>(new UnboundedChannelOptions { SingleReader = true });
    private volatile bool _unbound;
    private int _released;

    public EndPoint EndPoint { get; } = endPoint;

    public bool IsAccepting => !_unbound;

    public bool TryQueue(TunnelConnection connection) => _queue.Writer.TryWrite(connection);

    public async ValueTask<ConnectionContext?> AcceptAsync(CancellationToken cancellationToken = default)
    {
        try
        {
            return await _queue.Reader.ReadAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (ChannelClosedException)
        {
            return null; // unbound: Kestrel ends its accept loop on null
        }
    }

    public ValueTask UnbindAsync(CancellationToken cancellationToken = default)
    {
        _unbound = true;
        _queue.Writer.TryComplete();
        unbound();
        return ValueTask.CompletedTask;
    }

    public async ValueTask DisposeAsync()
    {
        await UnbindAsync().ConfigureAwait(false);
        while (_queue.Reader.TryRead(out var orphan))
        {
            orphan.Abort(new ConnectionAbortedException("HBONE listener disposed"));
            await orphan.DisposeAsync().ConfigureAwait(false);
        }
        if (Interlocked.Exchange(ref _released, 1) == 0)
            await release().ConfigureAwait(false);
    }
}

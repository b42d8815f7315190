using System.Net;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace Ambient.Waypoint.Transport;

/// <summary>
/// Kestrel transport for <see cref="HboneListenEndPoint"/>s. As an <see cref="IConnectionListenerFactorySelector"/>
/// it claims only those, so other endpoints of the same server keep Kestrel's socket transport. The HTTP/1 and
/// HTTP/2 endpoints of one address share one <see cref="HboneTunnelAcceptor"/> (one socket), opened by the first
/// bind and closed when both have been disposed.
/// </summary>
public sealed class HboneTransportFactory(HboneTransportOptions options) : IConnectionListenerFactory, IConnectionListenerFactorySelector
{
    private readonly object _sync = new();
    private readonly Dictionary<IPEndPoint, Shared> _ports = new();

    public bool CanBind(EndPoint endpoint) => endpoint is HboneListenEndPoint;

    public ValueTask<IConnectionListener> BindAsync(EndPoint endpoint, CancellationToken cancellationToken = default)
    {
        if (endpoint is not HboneListenEndPoint hbone)
            throw new NotSupportedException($"{endpoint} is not an HBONE endpoint");
        lock (_sync)
        {
            if (!_ports.TryGetValue(hbone.Address, out var shared))
            {
                shared = new Shared(new HboneTunnelAcceptor(hbone.Address, options));
                _ports[hbone.Address] = shared;
            }
            if (!shared.Bound.Add(hbone.Protocol))
                throw new InvalidOperationException($"{endpoint} is bound already");
            return ValueTask.FromResult<IConnectionListener>(shared.Acceptor.Attach(hbone.Protocol, () => ReleaseAsync(hbone.Address, hbone.Protocol)));
        }
    }

    private async ValueTask ReleaseAsync(IPEndPoint address, HttpProtocols protocol)
    {
        HboneTunnelAcceptor? last = null;
        lock (_sync)
        {
            if (_ports.TryGetValue(address, out var shared))
            {
                shared.Bound.Remove(protocol);
                if (shared.Bound.Count == 0)
                {
                    _ports.Remove(address);
                    last = shared.Acceptor;
                }
            }
        }
        if (last is not null)
            await last.DisposeAsync().ConfigureAwait(false);
    }

    private sealed record Shared(HboneTunnelAcceptor Acceptor)
    {
        public HashSet<HttpProtocols> Bound { get; } = new();
    }
}

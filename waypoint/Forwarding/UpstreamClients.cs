using System.Collections.Concurrent;
using System.Net.Http;
using Ambient.Hbone;
using Ambient.Waypoint.Resilience;

namespace Ambient.Waypoint.Forwarding;

/// <summary>
/// One HBONE HTTP client (<see cref="HboneHttpClient"/>) per destination service, as Envoy keeps one connection
/// pool per cluster: a service's connections are counted against its own <see cref="ConnectionLimiter"/>
/// (<c>tcp.maxConnections</c>) and never carry another service's requests, even when both select the same pod.
/// Clients live as long as their limiter (the waypoint's life); idle connections close after the pool's idle timeout.
/// </summary>
public sealed class UpstreamClients(HboneClient hbone, string sourceIdentity, TimeSpan? connectTimeout = null) : IDisposable
{
    private readonly ConcurrentDictionary<ConnectionLimiter, HttpMessageInvoker> _clients = new(ReferenceEqualityComparer.Instance);
    private readonly Lock _create = new();
    private volatile bool _disposed;

    /// <summary>The client whose connections count against <paramref name="limiter"/>.</summary>
    public HttpMessageInvoker For(ConnectionLimiter limiter)
    {
        if (_clients.TryGetValue(limiter, out var client)) return client;
        // Created under a lock: a handler that lost a GetOrAdd race would never be disposed.
        lock (_create)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (!_clients.TryGetValue(limiter, out client))
            {
                client = HboneHttpClient.Create(hbone, sourceIdentity, connectTimeout, limiter);
                _clients[limiter] = client;
            }
            return client;
        }
    }

    public void Dispose()
    {
        lock (_create)
        {
            _disposed = true;
            foreach (var (_, client) in _clients) client.Dispose();
            _clients.Clear();
        }
    }
}

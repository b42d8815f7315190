using Ambient.Config.Routes;

namespace Ambient.Waypoint.Resilience;

/// <summary>
/// The resources a <see cref="CircuitBreaker"/> counts, mirroring Istio's connectionPool settings. The waypoint
/// enforces connections and pending requests with <see cref="CircuitBreaker.Connections"/> (they wait rather than
/// only count); the counters here serve the in-flight request limit.
/// </summary>
public enum CircuitResource
{
    /// <summary><c>tcp.maxConnections</c>: open connections to the service.</summary>
    Connection,
    /// <summary><c>http.http1MaxPendingRequests</c>: requests waiting for a connection.</summary>
    PendingRequest,
    /// <summary><c>http.http2MaxRequests</c>: requests in flight.</summary>
    Request,
    /// <summary><c>http.maxRetries</c>: retries in flight.</summary>
    Retry,
}

/// <summary>
/// Envoy-style circuit breaking for one backend service: lock-free counters, each with a limit. A caller takes a
/// lease per in-flight request and disposes it when done; when a counter is at its limit the caller answers 503 at
/// once (with <c>x-envoy-overloaded: true</c>, as Envoy does) instead of queueing. Connections, and the requests
/// that queue for one, are <see cref="Connections"/>' business. Limits can change with the config while leases are
/// out: a lowered limit only refuses new entries.
/// </summary>
public sealed class CircuitBreaker
{
    public const int OverflowStatusCode = 503;

    private readonly int[] _counts = new int[4];
    private volatile int[] _limits;

    public CircuitBreaker(ConnectionPoolSettings? settings = null)
    {
        _limits = LimitsOf(settings);
        settings ??= new ConnectionPoolSettings();
        Connections = new ConnectionLimiter(settings.MaxConnections, settings.MaxPendingRequests) { ConnectTimeout = settings.ConnectTimeout };
    }

    /// <summary><c>tcp.maxConnections</c> and <c>http.http1MaxPendingRequests</c>: upstream connections and the requests waiting for one.</summary>
    public ConnectionLimiter Connections { get; }

    public void UpdateLimits(ConnectionPoolSettings? settings)
    {
        _limits = LimitsOf(settings);
        settings ??= new ConnectionPoolSettings();
        Connections.UpdateLimits(settings.MaxConnections, settings.MaxPendingRequests);
        Connections.ConnectTimeout = settings.ConnectTimeout;
    }

    public int Count(CircuitResource resource) => Volatile.Read(ref _counts[(int)resource]);

    public int Limit(CircuitResource resource) => _limits[(int)resource];

    /// <summary>A lease, or null when the resource is at its limit (overflow: answer <see cref="OverflowStatusCode"/>).</summary>
    public CircuitLease? TryEnter(CircuitResource resource)
    {
        var index = (int)resource;
        var limit = _limits[index];
        // Optimistic increment, undone on overflow: no lock, and the count never stays above the limit.
        if (Interlocked.Increment(ref _counts[index]) > limit)
        {
            Interlocked.Decrement(ref _counts[index]);
            return null;
        }
        return new CircuitLease(this, resource);
    }

    internal void Release(CircuitResource resource) => Interlocked.Decrement(ref _counts[(int)resource]);

    private static int[] LimitsOf(ConnectionPoolSettings? s)
    {
        s ??= new ConnectionPoolSettings();
        return [s.MaxConnections, s.MaxPendingRequests, s.MaxRequests, s.MaxRetries];
    }
}

/// <summary>One unit of a <see cref="CircuitBreaker"/> resource; disposing returns it (once, however often disposed).</summary>
public sealed class CircuitLease : IDisposable
{
    private CircuitBreaker? _owner;

    internal CircuitLease(CircuitBreaker owner, CircuitResource resource)
    {
        _owner = owner;
        Resource = resource;
    }

    public CircuitResource Resource { get; }

    public void Dispose() => Interlocked.Exchange(ref _owner, null)?.Release(Resource);
}

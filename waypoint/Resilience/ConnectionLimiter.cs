using System.Collections.Concurrent;
using System.Net;

namespace Ambient.Waypoint.Resilience;

/// <summary>
/// DestinationRule <c>connectionPool.tcp.maxConnections</c> and <c>http.http1MaxPendingRequests</c> for one
/// destination service, with Envoy's semantics: at most <see cref="MaxConnections"/> upstream connections (HBONE
/// tunnels to the service's pods) are open at once; an HTTP/1.1 request needs a connection of its own, so beyond
/// that many HTTP/1.1 requests the next ones wait as pending, and beyond <see cref="MaxPendingRequests"/> pending
/// they are refused at once (the caller answers 503 with <c>x-envoy-overloaded</c>, flag UO).
/// <para>
/// Two gates. Request slots (<see cref="TryAcquireSlotAsync"/>): one per HTTP/1.1 attempt in flight, FIFO waiters;
/// HTTP/2 requests take none (they multiplex). Connection permits (<see cref="OpenAsync"/>, called by the HTTP
/// client's ConnectCallback): the hard count of open tunnels, HTTP/1.1 and HTTP/2 alike. The HTTP client pools
/// connections per pod, so at the cap an idle connection to one pod would otherwise starve a request to another;
/// the limiter then closes an idle one. (Envoy instead lets a host without a connection open one beyond the cap;
/// here the cap is strict.) To know which connections are idle, an HTTP/1.1 attempt binds to the connection its
/// request is written on (<see cref="BeginAttempt"/>; the write happens in the request's own async flow, where
/// <see cref="CurrentAttempt"/> is visible).
/// </para>
/// <para>
/// Limits come from the config and change with it (<see cref="UpdateLimits"/>); counts survive the change. A
/// lowered limit refuses new entries and closes idle connections above it; busy ones close as they go idle.
/// Unlimited services take no lock: counts are kept with interlocked operations only.
/// </para>
/// </summary>
public sealed class ConnectionLimiter
{
    /// <summary>How often a connect that waits for a permit looks again for an idle connection to close.</summary>
    internal static readonly TimeSpan IdlePollInterval = TimeSpan.FromMilliseconds(200);

    /// <summary>A pod address unused for this long is forgotten at the next config change (pods come and go).</summary>
    private static readonly TimeSpan DefaultForgetEndpointsAfter = TimeSpan.FromMinutes(2);

    private static readonly AsyncLocal<AttemptBinding?> Binding = new();

    private readonly Lock _lock = new();
    private readonly ConcurrentDictionary<IPEndPoint, EndpointConnections> _endpoints = new();
    private readonly LinkedList<SlotWaiter> _slotWaiters = new(); // guarded by _lock
    private TaskCompletionSource? _changed; // guarded by _lock; completed when a permit may have become available
    private volatile int _maxConnections;
    private volatile int _maxPending;
    private int _slotsInUse;
    private int _announcedWaiters;
    private int _openConnections;
    private int _connectWaiters;
    private readonly long _forgetEndpointsAfterMs;

    public ConnectionLimiter(int maxConnections = int.MaxValue, int maxPendingRequests = int.MaxValue, TimeSpan? forgetEndpointsAfter = null)
    {
        _maxConnections = Math.Max(1, maxConnections);
        _maxPending = Math.Max(0, maxPendingRequests);
        _forgetEndpointsAfterMs = (long)(forgetEndpointsAfter ?? DefaultForgetEndpointsAfter).TotalMilliseconds;
    }

    public int MaxConnections => _maxConnections;

    /// <summary>
    /// <c>tcp.connectTimeout</c>: how long opening a tunnel to one of the service's pods may take (TCP, mutual TLS
    /// and the CONNECT answer, or the wait for a pooled HBONE connection being set up); null = the HTTP client's own.
    /// </summary>
    public TimeSpan? ConnectTimeout
    {
        get => Volatile.Read(ref _connectTimeoutTicks) is var t and > 0 ? TimeSpan.FromTicks(t) : null;
        set => Volatile.Write(ref _connectTimeoutTicks, value is { Ticks: > 0 } v ? v.Ticks : 0);
    }

    private long _connectTimeoutTicks;
    public int MaxPendingRequests => _maxPending;

    /// <summary>Upstream connections open (or being opened) now.</summary>
    public int OpenConnections => Volatile.Read(ref _openConnections);

    /// <summary>HTTP/1.1 attempts holding a connection slot.</summary>
    public int RequestsOnConnections => Volatile.Read(ref _slotsInUse);

    /// <summary>HTTP/1.1 requests waiting for a connection slot.</summary>
    public int PendingRequests
    {
        get { lock (_lock) return _slotWaiters.Count; }
    }

    private bool Unlimited => _maxConnections == int.MaxValue;

    /// <summary>New limits from the config: waiters that now fit are admitted, idle connections above the limit closed.</summary>
    public void UpdateLimits(int maxConnections, int maxPendingRequests)
    {
        _maxConnections = Math.Max(1, maxConnections);
        _maxPending = Math.Max(0, maxPendingRequests);
        List<UpstreamConnection>? victims = null;
        lock (_lock)
        {
            GrantWaitingSlotsLocked();
            // Waiters beyond a lowered pending limit keep waiting: they were admitted under the old one.
            SignalLocked();
            while (_openConnections > _maxConnections && EvictIdleLocked(preferOtherThan: null) is { } victim)
                (victims ??= []).Add(victim);
            ForgetUnusedEndpointsLocked();
        }
        if (victims is null) return;
        foreach (var victim in victims) victim.AbortTransport();
    }

    // ---------------------------------------------------------------- request slots

    /// <summary>
    /// A connection slot for one HTTP/1.1 attempt: true at once when fewer than <see cref="MaxConnections"/> are in
    /// use; otherwise waits (FIFO) as a pending request, or false at once when <see cref="MaxPendingRequests"/> are
    /// already waiting (overflow). Every true must be paired with <see cref="ReleaseSlot"/>. Throws
    /// <see cref="OperationCanceledException"/> when <paramref name="cancellationToken"/> fires while waiting.
    /// </summary>
    public ValueTask<bool> TryAcquireSlotAsync(CancellationToken cancellationToken = default)
    {
        if (Unlimited && Volatile.Read(ref _announcedWaiters) == 0)
        {
            Interlocked.Increment(ref _slotsInUse);
            return new ValueTask<bool>(true);
        }
        SlotWaiter waiter;
        lock (_lock)
        {
            // Announce before looking at the count: a release that misses the announcement has already lowered
            // the count this check reads (ReleaseSlot reads them in the other order).
            Interlocked.Increment(ref _announcedWaiters);
            if (_slotWaiters.Count == 0 && Volatile.Read(ref _slotsInUse) < _maxConnections)
            {
                Interlocked.Decrement(ref _announcedWaiters);
                Interlocked.Increment(ref _slotsInUse);
                return new ValueTask<bool>(true);
            }
            if (_slotWaiters.Count >= _maxPending)
            {
                Interlocked.Decrement(ref _announcedWaiters);
                return new ValueTask<bool>(false);
            }
            waiter = new SlotWaiter(this);
            waiter.Node = _slotWaiters.AddLast(waiter);
        }
        return WaitForSlotAsync(waiter, cancellationToken);
    }

    /// <summary>A slot only if one is free now (no waiting, and not ahead of waiters): for mirrors, which never queue.</summary>
    public bool TryAcquireSlotNow()
    {
        if (Unlimited && Volatile.Read(ref _announcedWaiters) == 0)
        {
            Interlocked.Increment(ref _slotsInUse);
            return true;
        }
        lock (_lock)
        {
            if (_slotWaiters.Count != 0 || Volatile.Read(ref _slotsInUse) >= _maxConnections) return false;
            Interlocked.Increment(ref _slotsInUse);
            return true;
        }
    }

    public void ReleaseSlot()
    {
        Interlocked.Decrement(ref _slotsInUse);
        if (Unlimited && Volatile.Read(ref _announcedWaiters) == 0) return;
        lock (_lock) GrantWaitingSlotsLocked();
    }

    private static async ValueTask<bool> WaitForSlotAsync(SlotWaiter waiter, CancellationToken cancellationToken)
    {
        await using (cancellationToken.UnsafeRegister(static state => ((SlotWaiter)state!).Cancel(), waiter).ConfigureAwait(false))
            return await waiter.Task.ConfigureAwait(false);
    }

    private void GrantWaitingSlotsLocked()
    {
        while (_slotWaiters.First is { } first && Volatile.Read(ref _slotsInUse) < _maxConnections)
        {
            RemoveWaiterLocked(first.Value);
            Interlocked.Increment(ref _slotsInUse);
            first.Value.TrySetResult(true); // continuations run asynchronously: not under our lock
        }
    }

    private void RemoveWaiterLocked(SlotWaiter waiter)
    {
        _slotWaiters.Remove(waiter.Node!);
        waiter.Node = null;
        Interlocked.Decrement(ref _announcedWaiters);
    }

    private sealed class SlotWaiter(ConnectionLimiter owner) : TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously)
    {
        public LinkedListNode<SlotWaiter>? Node;

        public void Cancel()
        {
            lock (owner._lock)
            {
                if (Node is null) return; // granted already: the caller releases the slot
                owner.RemoveWaiterLocked(this);
            }
            TrySetCanceled();
        }
    }

    // ---------------------------------------------------------------- attempts and the connections they use

    /// <summary>
    /// One forwarding attempt to <paramref name="endpoint"/>, for the idle accounting: dispose when the attempt is
    /// over (its response copied or failed). An HTTP/1.1 attempt on a limited service also binds to the connection
    /// its request is written on, so that connection counts as busy until then.
    /// </summary>
    public AttemptLease BeginAttempt(IPEndPoint endpoint, bool http2)
    {
        EndpointConnections connections;
        while (true)
        {
            connections = Connections(endpoint);
            Interlocked.Increment(ref http2 ? ref connections.ActiveHttp2 : ref connections.ActiveHttp1);
            // Forgotten meanwhile (see ForgetUnusedEndpointsLocked): count on the record that stays instead.
            if (!Volatile.Read(ref connections.Forgotten)) break;
            Interlocked.Decrement(ref http2 ? ref connections.ActiveHttp2 : ref connections.ActiveHttp1);
        }
        connections.LastUsed = Environment.TickCount64;
        if (http2) return new AttemptLease(this, connections, null, http2: true);
        AttemptBinding? binding = null;
        if (!Unlimited)
        {
            // Not reset afterwards: a released binding is ignored, and the async flow that set it ends with the request.
            binding = new AttemptBinding();
            Binding.Value = binding;
        }
        return new AttemptLease(this, connections, binding, http2: false);
    }

    internal void EndAttempt(EndpointConnections connections, AttemptBinding? binding, bool http2)
    {
        binding?.Release();
        if (http2) Interlocked.Decrement(ref connections.ActiveHttp2);
        else Interlocked.Decrement(ref connections.ActiveHttp1);
        // A connection may have gone idle: a waiting connect can take it, and one above a lowered limit can go.
        if (Volatile.Read(ref _connectWaiters) == 0 && Volatile.Read(ref _openConnections) <= _maxConnections) return;
        UpstreamConnection? victim;
        lock (_lock)
        {
            SignalLocked();
            victim = _openConnections > _maxConnections ? EvictIdleLocked(preferOtherThan: null) : null;
        }
        victim?.AbortTransport();
    }

    /// <summary>
    /// A permit for one more connection to <paramref name="endpoint"/>: at once below the limit; at the limit an idle
    /// connection (preferably to another pod) is closed to make room; otherwise waits until one is closed or goes
    /// idle. The returned record counts as open until <see cref="UpstreamConnection.Close"/> (connect failed or
    /// the transport closed) or until it is evicted; attach the transport with <see cref="UpstreamConnection.Attach"/>.
    /// </summary>
    public async ValueTask<UpstreamConnection> OpenAsync(IPEndPoint endpoint, bool http2, CancellationToken cancellationToken)
    {
        while (true)
        {
            var connections = Connections(endpoint);
            Task changed;
            UpstreamConnection? victim;
            UpstreamConnection opened;
            lock (_lock)
            {
                if (connections.Forgotten) continue; // forgotten between the lookup and the lock: look it up again
                victim = _openConnections < _maxConnections ? null : EvictIdleLocked(preferOtherThan: connections);
                if (_openConnections < _maxConnections)
                {
                    _openConnections++;
                    opened = new UpstreamConnection(this, connections, http2);
                    connections.Open.Add(opened);
                    changed = Task.CompletedTask;
                }
                else
                {
                    opened = null!;
                    changed = (_changed ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task;
                    _connectWaiters++;
                }
            }
            victim?.AbortTransport();
            if (changed.IsCompleted) return opened;
            try
            {
                // Signals come when a connection closes or an attempt ends; the poll covers a connection that only
                // becomes evictable with time (its request finished elsewhere) and any signal that was missed.
                await changed.WaitAsync(IdlePollInterval, cancellationToken).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
            }
            finally
            {
                lock (_lock) _connectWaiters--;
            }
        }
    }

    internal void OnClosed(UpstreamConnection connection)
    {
        lock (_lock)
        {
            if (!connection.MarkClosedLocked()) return;
            _openConnections--;
            SignalLocked();
        }
    }

    /// <summary>Takes one idle connection out of the count (the caller aborts its transport outside the lock).</summary>
    private UpstreamConnection? EvictIdleLocked(EndpointConnections? preferOtherThan)
    {
        UpstreamConnection? best = null;
        foreach (var (_, connections) in _endpoints)
        {
            int unbound = connections.UnboundHttp1AttemptsLocked();
            bool otherPod = !ReferenceEquals(connections, preferOtherThan);
            foreach (var candidate in connections.Open)
            {
                if (!candidate.IsIdleLocked(connections, unbound)) continue;
                // Another pod's connection first (the one asking would have reused its own), then the longest idle.
                bool bestOtherPod = best is not null && !ReferenceEquals(best.Endpoint, preferOtherThan);
                if (best is null || (otherPod && !bestOtherPod) || (otherPod == bestOtherPod && candidate.IdleSince < best.IdleSince))
                    best = candidate;
            }
        }
        if (best is null || !best.MarkClosedLocked()) return null;
        _openConnections--;
        return best;
    }

    /// <summary>
    /// Drops the records of pod addresses with no connection and no attempt for a while. An attempt that looked the
    /// record up just before sees the mark after counting itself and moves to a new record (or the mark is undone
    /// here when its count shows up first).
    /// </summary>
    private void ForgetUnusedEndpointsLocked()
    {
        long now = Environment.TickCount64;
        foreach (var (address, connections) in _endpoints)
        {
            if (connections.Open.Count != 0 || now - connections.LastUsed < _forgetEndpointsAfterMs) continue;
            Volatile.Write(ref connections.Forgotten, true);
            Interlocked.MemoryBarrier(); // the mark before the counts, as BeginAttempt counts before reading the mark
            if (Volatile.Read(ref connections.ActiveHttp1) != 0 || Volatile.Read(ref connections.ActiveHttp2) != 0)
            {
                Volatile.Write(ref connections.Forgotten, false);
                continue;
            }
            _endpoints.TryRemove(KeyValuePair.Create(address, connections));
        }
    }

    private void SignalLocked()
    {
        if (_changed is not { } changed) return;
        _changed = null;
        changed.TrySetResult();
    }

    private EndpointConnections Connections(IPEndPoint endpoint) =>
        _endpoints.TryGetValue(endpoint, out var existing) ? existing : _endpoints.GetOrAdd(endpoint, static _ => new EndpointConnections());

    /// <summary>The H1 attempt the current async flow is making, if any (read by the connection on each write).</summary>
    internal static AttemptBinding? CurrentAttempt => Binding.Value;

    internal Lock SyncRoot => _lock;

    /// <summary>Pod addresses with a record (for tests).</summary>
    internal int KnownEndpoints => _endpoints.Count;
}

/// <summary>The upstream connections to one pod address (one pool of the HTTP client) and the attempts using them.</summary>
internal sealed class EndpointConnections
{
    public int ActiveHttp1;
    public int ActiveHttp2;
    /// <summary>Environment.TickCount64 of the last attempt (records of departed pods are forgotten).</summary>
    public long LastUsed = Environment.TickCount64;
    /// <summary>Removed from the limiter: attempts and connects look the address up again.</summary>
    public bool Forgotten;
    /// <summary>Open connections; guarded by the limiter's lock.</summary>
    public readonly List<UpstreamConnection> Open = [];

    /// <summary>HTTP/1.1 attempts not (yet) writing on a connection: each may be about to take any idle one.</summary>
    public int UnboundHttp1AttemptsLocked()
    {
        int bound = 0;
        foreach (var c in Open)
        {
            if (c.IsBound) bound++;
        }
        return Volatile.Read(ref ActiveHttp1) - bound;
    }
}

/// <summary>An HTTP/1.1 attempt's claim on the connection its request is written on.</summary>
internal sealed class AttemptBinding
{
    private UpstreamConnection? _connection;
    private volatile bool _released;

    public bool Released => _released;

    public void Bind(UpstreamConnection connection)
    {
        if (_released || ReferenceEquals(_connection, connection)) return;
        _connection?.Unbind(this);
        _connection = connection;
        connection.Bind(this);
        // Released meanwhile (the attempt ended on another thread): undo, or the connection stays busy for good.
        if (_released) connection.Unbind(this);
    }

    public void Release()
    {
        _released = true;
        _connection?.Unbind(this);
    }
}

/// <summary>The transport of an upstream connection, closed when the limiter evicts it.</summary>
public interface IUpstreamTransport
{
    /// <summary>Closes the connection at once (an idle HBONE tunnel is reset).</summary>
    void Abort();
}

/// <summary>
/// One upstream connection counted by a <see cref="ConnectionLimiter"/>: opened by <see cref="ConnectionLimiter.OpenAsync"/>,
/// closed by <see cref="Close"/> (idempotent; also after an eviction).
/// </summary>
public sealed class UpstreamConnection
{
    private readonly ConnectionLimiter _owner;
    private AttemptBinding? _current;
    private IUpstreamTransport? _transport;
    private bool _everBound;
    private bool _closed; // guarded by the owner's lock

    internal UpstreamConnection(ConnectionLimiter owner, EndpointConnections endpoint, bool http2)
    {
        _owner = owner;
        Endpoint = endpoint;
        Http2 = http2;
    }

    internal EndpointConnections Endpoint { get; }
    public bool Http2 { get; }
    internal bool IsBound => Volatile.Read(ref _current) is not null;
    internal long IdleSince { get; private set; } = Environment.TickCount64;

    /// <summary>The connection is up: from now on it can be evicted when idle.</summary>
    public void Attach(IUpstreamTransport transport)
    {
        lock (_owner.SyncRoot) _transport = transport;
    }

    /// <summary>Called on each write of an HTTP/1.1 connection: the attempt writing its request now owns the connection.</summary>
    public void OnWrite()
    {
        if (Http2 || ConnectionLimiter.CurrentAttempt is not { Released: false } attempt || ReferenceEquals(Volatile.Read(ref _current), attempt)) return;
        attempt.Bind(this);
    }

    /// <summary>The transport closed (or never opened): the permit goes back.</summary>
    public void Close() => _owner.OnClosed(this);

    internal void Bind(AttemptBinding attempt)
    {
        _everBound = true;
        Volatile.Write(ref _current, attempt);
    }

    internal void Unbind(AttemptBinding attempt)
    {
        if (Interlocked.CompareExchange(ref _current, null, attempt) == attempt) IdleSince = Environment.TickCount64;
    }

    internal bool IsIdleLocked(EndpointConnections endpoint, int unboundAttempts)
    {
        if (_closed || _transport is null) return false; // still connecting: its request is waiting for it
        if (Http2) return Volatile.Read(ref endpoint.ActiveHttp2) == 0;
        if (Volatile.Read(ref _current) is not null) return false;
        // Released after a request: idle (a request that takes it at this very moment fails on a reused connection,
        // which the HTTP client retries on another). Never used: it may be the one a request is about to write on,
        // unless every HTTP/1.1 attempt to this pod is bound elsewhere.
        return _everBound || unboundAttempts <= 0;
    }

    /// <summary>Marks the record closed; false when it was already (the caller must not count it twice).</summary>
    internal bool MarkClosedLocked()
    {
        if (_closed) return false;
        _closed = true;
        Endpoint.Open.Remove(this);
        return true;
    }

    internal void AbortTransport() => _transport?.Abort();
}

/// <summary>An attempt in <see cref="ConnectionLimiter.BeginAttempt"/>'s accounting; dispose when it is over.</summary>
public readonly struct AttemptLease : IDisposable
{
    private readonly ConnectionLimiter? _owner;
    private readonly EndpointConnections? _connections;
    private readonly AttemptBinding? _binding;
    private readonly bool _http2;

    internal AttemptLease(ConnectionLimiter owner, EndpointConnections connections, AttemptBinding? binding, bool http2)
    {
        _owner = owner;
        _connections = connections;
        _binding = binding;
        _http2 = http2;
    }

    public void Dispose() => _owner?.EndAttempt(_connections!, _binding, _http2);
}

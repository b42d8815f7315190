using System.Collections.Concurrent;

namespace Ambient.LoadBalancing;

/// <summary>
/// Shared state of one endpoint (<see cref="EndpointKey"/>): open connections and passive outlier ejection.
/// Reads (<see cref="OpenConnections"/>, availability during a pick) never lock and never allocate; connection
/// counting is one interlocked operation; state transitions on reports take a per-endpoint lock, except the
/// common "success while healthy" report, which only reads.
/// </summary>
/// <remarks>
/// State machine (<see cref="OutlierDetectionOptions"/>): Admitted —N consecutive failures→ Ejected for
/// base·2^(k−1) (k = ejections since the last success, capped) —back-off elapsed→ HalfOpen. In HalfOpen a failure
/// re-ejects at once with the next (doubled) back-off; a success anywhere re-admits and resets the failure streak and
/// the back-off. Failures reported while Ejected (connects that were already in flight) are ignored.
/// </remarks>
public sealed class EndpointHealth
{
    private const long Admitted = long.MinValue;

    private readonly EndpointHealthRegistry _owner;
    private readonly Lock _lock = new();
    private int _open;
    private int _failures;
    private int _ejections;
    private long _ejectedUntil = Admitted;  // timestamp (owner's TimeProvider); Admitted when not ejected
    private long _probeUntil = long.MinValue; // half-open: no new trial before this timestamp
    private bool _removed;

    internal EndpointHealth(EndpointHealthRegistry owner, EndpointKey key)
    {
        _owner = owner;
        Key = key;
    }

    public EndpointKey Key { get; }

    /// <summary>Connections currently leased (connecting or open).</summary>
    public int OpenConnections => Volatile.Read(ref _open);

    /// <summary>Connect failures in a row since the last success or ejection.</summary>
    public int ConsecutiveFailures => Volatile.Read(ref _failures);

    /// <summary>Ejections since the last success (decides the next back-off).</summary>
    public int Ejections => Volatile.Read(ref _ejections);

    /// <summary>Length of the current ejection (zero when admitted).</summary>
    public TimeSpan Backoff
    {
        get
        {
            lock (_lock)
            {
                return _ejectedUntil == Admitted ? TimeSpan.Zero : _owner.Options.EjectionTime(_ejections);
            }
        }
    }

    /// <summary>State now, by the registry's clock.</summary>
    public EndpointState State
    {
        get
        {
            var until = Volatile.Read(ref _ejectedUntil);
            if (until == Admitted) return EndpointState.Admitted;
            return _owner.Time.GetTimestamp() < until ? EndpointState.Ejected : EndpointState.HalfOpen;
        }
    }

    /// <summary>Counts one connection until the lease is disposed.</summary>
    public ConnectionLease Lease()
    {
        Interlocked.Increment(ref _open);
        return new ConnectionLease(this);
    }

    internal void Release() => Interlocked.Decrement(ref _open);

    internal bool IsAdmitted => Volatile.Read(ref _ejectedUntil) == Admitted;

    /// <summary>Admitted, or half-open with no trial in flight: may be picked outside panic mode.</summary>
    internal bool IsAvailable(long now)
    {
        var until = Volatile.Read(ref _ejectedUntil);
        return until == Admitted || (now >= until && now >= Volatile.Read(ref _probeUntil));
    }

    /// <summary>Claims the half-open trial; false when admitted, still ejected, or another trial is in flight.</summary>
    internal bool TryClaimProbe(long now)
    {
        var until = Volatile.Read(ref _ejectedUntil);
        if (until == Admitted || now < until) return false;
        var probe = Volatile.Read(ref _probeUntil);
        return now >= probe && Interlocked.CompareExchange(ref _probeUntil, now + _owner.ProbeTicks, probe) == probe;
    }

    /// <summary>A connect to this endpoint succeeded: re-admits it and resets the failure streak and back-off.</summary>
    public void ReportSuccess()
    {
        if (Volatile.Read(ref _ejectedUntil) == Admitted && Volatile.Read(ref _failures) == 0 && Volatile.Read(ref _ejections) == 0)
            return;
        lock (_lock)
        {
            _failures = 0;
            _ejections = 0;
            if (_ejectedUntil == Admitted) return;
            Volatile.Write(ref _ejectedUntil, Admitted);
            if (!_removed) _owner.OnReadmitted();
        }
    }

    /// <summary>A connect to this endpoint failed (refused, unreachable, timed out, 5xx from its node).</summary>
    public void ReportFailure()
    {
        var now = _owner.Time.GetTimestamp();
        lock (_lock)
        {
            if (_ejectedUntil != Admitted)
            {
                if (now < _ejectedUntil) return; // stragglers from before the ejection do not extend it
                Eject(now);                      // the half-open trial failed
                return;
            }
            if (++_failures < _owner.Options.ConsecutiveFailures) return;
            Eject(now);
            if (!_removed) _owner.OnEjected();
        }
    }

    private void Eject(long now)
    {
        _failures = 0;
        if (_ejections < int.MaxValue) _ejections++;
        Volatile.Write(ref _probeUntil, long.MinValue);
        Volatile.Write(ref _ejectedUntil, now + _owner.ToTimestampTicks(_owner.Options.EjectionTime(_ejections)));
    }

    /// <summary>Unlinks the entry from its registry if it has no open connections; returns whether it did.</summary>
    internal bool TryRetire(ConcurrentDictionary<EndpointKey, EndpointHealth> entries)
    {
        lock (_lock)
        {
            if (Volatile.Read(ref _open) != 0 || !entries.TryRemove(new KeyValuePair<EndpointKey, EndpointHealth>(Key, this))) return false;
            _removed = true;
            if (_ejectedUntil != Admitted) _owner.OnReadmitted();
            return true;
        }
    }

    public override string ToString() => $"{Key} open={OpenConnections} state={State} failures={ConsecutiveFailures} ejections={Ejections}";
}

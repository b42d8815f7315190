using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Win32.SafeHandles;

namespace Ambient.NodeAgent;

/// <summary>
/// The node agent side of the protocol (<see cref="NodeAgentCodec"/> describes it). It holds the set of pods in the mesh
/// with their network namespaces and keeps the daemon in step: on every connection it sends hello, a <c>keep</c> for
/// each pod, <c>snapshotSent</c>, and then each change as an <c>add</c> or <c>delete</c>, one at a time, waiting for
/// each ack. When the connection breaks or an ack is late (the daemon restarted, say) it reconnects with exponential
/// backoff and replays its whole current state.
/// </summary>
/// <remarks>
/// <see cref="AddPodAsync"/> and <see cref="RemovePodAsync"/> change the state at once (also while the daemon is away)
/// and return a task for the daemon's answer to that change: null once the daemon has applied it, or the daemon's
/// error. The answer may come from a later connection's snapshot replay. Cancelling the wait does not undo the change;
/// a change the daemon refused stays in the state (remove the pod to take it back). All waiting is asynchronous.
/// </remarks>
public sealed class NodeAgentClient : IAsyncDisposable
{
    private readonly NodeAgentClientOptions _options;
    private readonly ILogger _logger;
    private readonly Lock _lock = new();
    private readonly Dictionary<string, PodEntry> _pods = new(StringComparer.Ordinal);
    private readonly List<Change> _pending = []; // changes not yet acknowledged, in order
    private readonly CancellationTokenSource _stop = new();
    private long _nextSeq = 1;
    private TaskCompletionSource _changed = NewSignal();
    private TaskCompletionSource _synced = NewSignal();
    private bool _isSynced;
    private long _syncCount;
    private bool _disposed;
    private Task? _loop;

    public NodeAgentClient(NodeAgentClientOptions? options = null, ILogger? logger = null)
    {
        LinuxNative.EnsureSupported();
        _options = options ?? new NodeAgentClientOptions();
        ArgumentException.ThrowIfNullOrEmpty(_options.SocketPath, nameof(options));
        _logger = logger ?? NullLogger.Instance;
    }

    /// <summary>The daemon's socket.</summary>
    public string SocketPath => _options.SocketPath;

    /// <summary>Whether the client is connected and the daemon has acknowledged its snapshot.</summary>
    public bool IsSynced
    {
        get
        {
            lock (_lock) return _isSynced;
        }
    }

    /// <summary>How many snapshots the daemon has acknowledged (one per successful connection).</summary>
    public long SyncCount => Interlocked.Read(ref _syncCount);

    /// <summary>The pods currently in the mesh, as far as this agent knows.</summary>
    public IReadOnlyList<PodInfo> Pods
    {
        get
        {
            lock (_lock) return _pods.Values.Select(e => e.Pod).ToList();
        }
    }

    /// <summary>Starts connecting to the daemon (in the background; it keeps trying until disposed).</summary>
    public void Start()
    {
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_loop is not null) throw new InvalidOperationException("the client is already started");
            _loop = Task.Run(() => RunAsync(_stop.Token));
        }
    }

    /// <summary>Completes when the client is connected and the daemon has acknowledged its snapshot.</summary>
    public Task WhenSyncedAsync(CancellationToken cancellationToken = default)
    {
        lock (_lock) return (_isSynced ? Task.CompletedTask : _synced.Task).WaitAsync(cancellationToken);
    }

    /// <summary>
    /// Puts a pod in the mesh (or replaces the pod with that uid). The client duplicates <paramref name="netns"/>; the
    /// caller keeps its own descriptor. Returns the daemon's answer: null when applied, else its error.
    /// </summary>
    /// <exception cref="ArgumentException">The pod breaks a field rule of the protocol.</exception>
    public Task<string?> AddPodAsync(PodInfo pod, SafeHandle netns, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(pod);
        ArgumentNullException.ThrowIfNull(netns);
        _ = NodeAgentCodec.Encode(new NodeAgentMessage.Add(pod)); // validate now, not in the middle of a session
        var copy = LinuxNative.Duplicate(netns);
        Change change;
        lock (_lock)
        {
            if (_disposed)
            {
                copy.Dispose();
                throw new ObjectDisposedException(nameof(NodeAgentClient));
            }
            var entry = new PodEntry(pod, copy);
            if (_pods.Remove(pod.Uid, out var old)) old.Netns.Dispose(); // closes once nothing in flight uses it
            _pods[pod.Uid] = entry;
            change = NewChange(pod.Uid, entry);
        }
        return change.Done.Task.WaitAsync(cancellationToken);
    }

    /// <summary>Takes a pod out of the mesh. Returns the daemon's answer: null when applied, else its error.</summary>
    public Task<string?> RemovePodAsync(string uid, CancellationToken cancellationToken = default)
    {
        _ = NodeAgentCodec.Encode(new NodeAgentMessage.Delete(uid));
        Change change;
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_pods.Remove(uid, out var old)) old.Netns.Dispose();
            change = NewChange(uid, null);
        }
        return change.Done.Task.WaitAsync(cancellationToken);
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Records a change (under the lock) and wakes the session.</summary>
    private Change NewChange(string uid, PodEntry? entry)
    {
        var change = new Change(_nextSeq++, uid, entry);
        if (entry is not null)
        {
            var added = false;
            entry.Netns.DangerousAddRef(ref added); // released when the change completes
        }
        _pending.Add(change);
        var signal = _changed;
        _changed = NewSignal();
        signal.TrySetResult();
        return change;
    }

    /// <summary>Completes the given changes with the daemon's answer.</summary>
    private void Complete(IEnumerable<Change> changes, string? error)
    {
        List<Change> done = [];
        lock (_lock)
        {
            foreach (var change in changes)
            {
                if (_pending.Remove(change)) done.Add(change);
            }
        }
        foreach (var change in done)
        {
            change.Entry?.Netns.DangerousRelease();
            change.Done.TrySetResult(error);
        }
    }

    /// <summary>The unacknowledged changes up to <paramref name="seq"/> that match.</summary>
    private List<Change> PendingUpTo(long seq, Func<Change, bool> match)
    {
        lock (_lock) return _pending.Where(c => c.Seq <= seq && match(c)).ToList();
    }

    private void SetSynced(bool synced)
    {
        TaskCompletionSource? completed = null;
        lock (_lock)
        {
            if (_isSynced == synced) return;
            _isSynced = synced;
            if (synced) completed = _synced;
            else _synced = NewSignal();
        }
        completed?.TrySetResult();
    }

    private async Task RunAsync(CancellationToken stop)
    {
        var delay = _options.ReconnectMinDelay;
        string? lastProblem = null;
        while (!stop.IsCancellationRequested)
        {
            var syncsBefore = SyncCount;
            try
            {
                await RunSessionAsync(stop).ConfigureAwait(false);
            }
            catch (Exception) when (stop.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                // Log a lost session always, the same failure to (re)connect only once in a row.
                var reason = e is HelloRefusedException refused ? refused.DaemonError : $"{e.GetType().Name}: {e.Message}";
                if (SyncCount != syncsBefore)
                {
                    _logger.ConnectionLost(SocketPath, reason);
                    lastProblem = null;
                }
                else if (reason != lastProblem)
                {
                    if (e is HelloRefusedException) _logger.HelloRefused(SocketPath, reason);
                    else _logger.Unreachable(SocketPath, reason);
                    lastProblem = reason;
                }
            }
            finally
            {
                SetSynced(false);
            }

            if (SyncCount != syncsBefore) delay = _options.ReconnectMinDelay;
            try
            {
                await Task.Delay(delay * (0.8 + 0.4 * Random.Shared.NextDouble()), stop).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, _options.ReconnectMaxDelay.Ticks));
        }
    }

    /// <summary>One connection: hello, snapshot replay, then changes until something fails.</summary>
    private async Task RunSessionAsync(CancellationToken stop)
    {
        SeqPacketConnection connection;
        using (var connectTimeout = CancellationTokenSource.CreateLinkedTokenSource(stop))
        {
            connectTimeout.CancelAfter(_options.ConnectTimeout);
            try
            {
                connection = await SeqPacketConnection.ConnectAsync(SocketPath, connectTimeout.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!stop.IsCancellationRequested)
            {
                throw new TimeoutException($"connecting took longer than {_options.ConnectTimeout}");
            }
        }

        using var sessionStop = CancellationTokenSource.CreateLinkedTokenSource(stop);
        var exchange = new Exchange(connection, _options.AckTimeout, sessionStop.Token);
        try
        {
            if (await exchange.SendAsync(new NodeAgentMessage.Hello(NodeAgentCodec.ProtocolVersion), null).ConfigureAwait(false) is { } helloError)
                throw new HelloRefusedException(helloError);

            // Snapshot replay. Changes recorded up to snapshotSeq are answered by it; later ones follow it.
            long snapshotSeq;
            List<PodEntry> snapshot;
            lock (_lock)
            {
                snapshotSeq = _nextSeq - 1;
                snapshot = [.. _pods.Values];
                foreach (var entry in snapshot)
                {
                    var added = false;
                    entry.Netns.DangerousAddRef(ref added);
                }
            }
            var released = 0;
            try
            {
                for (; released < snapshot.Count; released++)
                {
                    var entry = snapshot[released];
                    var error = await exchange.SendAsync(new NodeAgentMessage.Keep(entry.Pod), entry.Netns).ConfigureAwait(false);
                    if (error is not null) _logger.ChangeRefused("keep", entry.Pod.Uid, error);
                    Complete(PendingUpTo(snapshotSeq, c => c.Entry is not null && c.Uid == entry.Pod.Uid), error);
                    entry.Netns.DangerousRelease();
                }
            }
            finally
            {
                for (; released < snapshot.Count; released++) snapshot[released].Netns.DangerousRelease();
            }
            var snapshotError = await exchange.SendAsync(new NodeAgentMessage.SnapshotSent(), null).ConfigureAwait(false);
            if (snapshotError is not null) _logger.ChangeRefused("snapshotSent", "-", snapshotError);
            // Deletes, and adds superseded by a later delete, are answered by the end of the snapshot.
            Complete(PendingUpTo(snapshotSeq, _ => true), snapshotError);
            Interlocked.Increment(ref _syncCount);
            SetSynced(true);
            _logger.Synced(SocketPath, snapshot.Count);

            var cursor = snapshotSeq;
            while (true)
            {
                Change? next;
                Task changed;
                lock (_lock)
                {
                    next = _pending.Find(c => c.Seq > cursor);
                    changed = _changed.Task;
                }
                if (next is null)
                {
                    await exchange.IdleAsync(changed).ConfigureAwait(false);
                    continue;
                }
                NodeAgentMessage message = next.Entry is { } entry ? new NodeAgentMessage.Add(entry.Pod) : new NodeAgentMessage.Delete(next.Uid);
                var error = await exchange.SendAsync(message, next.Entry?.Netns).ConfigureAwait(false);
                if (error is not null) _logger.ChangeRefused(message.WireType, next.Uid, error);
                Complete([next], error);
                cursor = next.Seq;
            }
        }
        finally
        {
            sessionStop.Cancel();
            exchange.Abandon();
            connection.Dispose();
        }
    }

    /// <summary>Stops the client, closes the connection and every namespace descriptor it holds; unanswered changes are cancelled.</summary>
    public async ValueTask DisposeAsync()
    {
        Task? loop;
        lock (_lock)
        {
            if (_disposed) return;
            _disposed = true;
            loop = _loop;
        }
        _stop.Cancel();
        if (loop is not null)
        {
            try
            {
                await loop.ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
            }
        }
        List<Change> pending;
        List<PodEntry> pods;
        lock (_lock)
        {
            pending = [.. _pending];
            _pending.Clear();
            pods = [.. _pods.Values];
            _pods.Clear();
        }
        foreach (var change in pending)
        {
            change.Entry?.Netns.DangerousRelease();
            change.Done.TrySetCanceled();
        }
        foreach (var pod in pods) pod.Netns.Dispose();
        _stop.Dispose();
    }

    private sealed record PodEntry(PodInfo Pod, SafeFileHandle Netns);

    private sealed class Change(long seq, string uid, PodEntry? entry)
    {
        public long Seq { get; } = seq;
        public string Uid { get; } = uid;
        /// <summary>The pod to add (holding a reference on its descriptor), or null for a delete.</summary>
        public PodEntry? Entry { get; } = entry;
        public TaskCompletionSource<string?> Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    private sealed class HelloRefusedException(string daemonError) : IOException($"the daemon refused hello: {daemonError}")
    {
        public string DaemonError { get; } = daemonError;
    }

    /// <summary>Request/ack over one connection, with at most one receive outstanding (also while idle, to notice a closed connection).</summary>
    private sealed class Exchange(SeqPacketConnection connection, TimeSpan ackTimeout, CancellationToken cancellationToken)
    {
        private Task<SeqPacket?>? _receive;

        private Task<SeqPacket?> Receive() => _receive ??= connection.ReceiveAsync(cancellationToken).AsTask();

        /// <summary>Sends a message and returns the error of its ack.</summary>
        public async Task<string?> SendAsync(NodeAgentMessage message, SafeHandle? fd)
        {
            await connection.SendAsync(NodeAgentCodec.Encode(message), fd, cancellationToken).ConfigureAwait(false);
            SeqPacket? packet;
            try
            {
                packet = await Receive().WaitAsync(ackTimeout, cancellationToken).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                throw new TimeoutException($"no ack for \"{message.WireType}\" within {ackTimeout}");
            }
            _receive = null;
            if (packet is not { } p) throw new IOException($"the daemon closed the connection before acknowledging \"{message.WireType}\"");
            p.Fd?.Dispose();
            NodeAgentMessage reply;
            try
            {
                reply = NodeAgentCodec.Decode(p.Payload);
            }
            catch (FormatException e)
            {
                throw new IOException($"malformed reply from the daemon: {e.Message}", e);
            }
            return reply is NodeAgentMessage.Ack ack
                ? ack.Error
                : throw new IOException($"expected an ack from the daemon, got \"{reply.WireType}\"");
        }

        /// <summary>Waits for <paramref name="changed"/>; throws if the daemon closes the connection or speaks unasked meanwhile.</summary>
        public async Task IdleAsync(Task changed)
        {
            var receive = Receive();
            await Task.WhenAny(changed, receive).ConfigureAwait(false);
            if (!receive.IsCompleted) return;
            _receive = null;
            var packet = await receive.ConfigureAwait(false);
            if (packet is not { } p) throw new IOException("the daemon closed the connection");
            p.Fd?.Dispose();
            throw new IOException("the daemon sent a message nobody asked for");
        }

        /// <summary>Lets an outstanding receive finish on its own (the connection is being closed), disposing what it brings.</summary>
        public void Abandon()
        {
            _receive?.ContinueWith(
                static t =>
                {
                    if (t.IsCompletedSuccessfully) t.Result?.Fd?.Dispose();
                    else _ = t.Exception;
                },
                CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }
    }
}

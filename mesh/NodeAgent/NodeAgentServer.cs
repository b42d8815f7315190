using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Ambient.NodeAgent;

/// <summary>
/// The daemon side of the node agent protocol (<see cref="NodeAgentCodec"/> describes it): listens on a
/// <c>SOCK_SEQPACKET</c> socket, serves one agent connection at a time, decodes its messages, calls the
/// <see cref="INodeAgentHandler"/> and answers every message with an ack carrying the handler's error.
/// </summary>
/// <remarks>
/// All waiting is asynchronous (no thread is blocked while an agent is idle). Create the server before any thread
/// of the process enters a pod namespace (DESIGN.md §8), so that its socket lives in the host namespace.
/// </remarks>
public sealed class NodeAgentServer : IAsyncDisposable
{
    private readonly INodeAgentHandler _handler;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stop = new();
    private SeqPacketListener? _listener;
    private Task? _acceptLoop;
    private long _sessions;
    private volatile bool _agentConnected;
    private int _disposed;

    public NodeAgentServer(INodeAgentHandler handler, string socketPath = NodeAgentCodec.DefaultSocketPath, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(handler);
        ArgumentException.ThrowIfNullOrEmpty(socketPath);
        _handler = handler;
        SocketPath = Path.GetFullPath(socketPath);
        _logger = logger ?? NullLogger.Instance;
    }

    /// <summary>Where the server listens.</summary>
    public string SocketPath { get; }

    /// <summary>Whether an agent is connected right now.</summary>
    public bool AgentConnected => _agentConnected;

    /// <summary>How many agent connections have been accepted so far.</summary>
    public long SessionCount => Interlocked.Read(ref _sessions);

    /// <summary>Binds the socket (synchronously, so a bad path fails here) and starts accepting agents.</summary>
    /// <exception cref="IOException">The socket cannot be bound (e.g. another daemon listens there).</exception>
    public void Start()
    {
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        if (_listener is not null) throw new InvalidOperationException("the server is already started");
        _listener = SeqPacketListener.Bind(SocketPath);
        _logger.Listening(SocketPath);
        _acceptLoop = Task.Run(() => AcceptLoopAsync(_listener, _stop.Token));
    }

    private async Task AcceptLoopAsync(SeqPacketListener listener, CancellationToken stop)
    {
        while (!stop.IsCancellationRequested)
        {
            SeqPacketConnection connection;
            try
            {
                connection = await listener.AcceptAsync(stop).ConfigureAwait(false);
            }
            catch (Exception) when (stop.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                _logger.AcceptFailed(e, SocketPath);
                try
                {
                    await Task.Delay(100, stop).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
                continue;
            }

            var session = Interlocked.Increment(ref _sessions);
            _agentConnected = true;
            _logger.AgentConnected(session);
            long messages = 0;
            try
            {
                messages = await new Session(this, connection, session).RunAsync(stop).ConfigureAwait(false);
                _logger.AgentDisconnected(session, messages);
            }
            catch (Exception) when (stop.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                _logger.SessionFailed(e, session);
            }
            finally
            {
                _agentConnected = false;
                connection.Dispose();
            }
        }
    }

    /// <summary>Stops accepting, closes the agent connection and removes the socket file.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        _stop.Cancel();
        _listener?.Dispose();
        if (_acceptLoop is not null)
        {
            try
            {
                await _acceptLoop.ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
            }
        }
        _stop.Dispose();
    }

    /// <summary>One agent connection: hello, snapshot replay, then changes.</summary>
    private sealed class Session(NodeAgentServer server, SeqPacketConnection connection, long id)
    {
        private readonly HashSet<string> _seenSinceHello = new(StringComparer.Ordinal);
        private bool _helloDone;
        private bool _snapshotDone;
        private long _messages;

        /// <summary>Runs until the agent disconnects or breaks the hello rule; returns the number of messages handled.</summary>
        public async Task<long> RunAsync(CancellationToken stop)
        {
            while (true)
            {
                SeqPacket packet;
                try
                {
                    if (await connection.ReceiveAsync(stop).ConfigureAwait(false) is not { } received) return _messages;
                    packet = received;
                }
                catch (InvalidDataException e)
                {
                    // The packet was dropped by the transport (too long, too many descriptors); answer it all the same.
                    _messages++;
                    if (!await RejectAsync(e.Message, stop).ConfigureAwait(false)) return _messages;
                    continue;
                }

                _messages++;
                var (error, close) = await HandleAsync(packet, stop).ConfigureAwait(false);
                await connection.SendAsync(NodeAgentCodec.Encode(new NodeAgentMessage.Ack(error)), null, stop).ConfigureAwait(false);
                if (close) return _messages;
            }
        }

        private async Task<bool> RejectAsync(string error, CancellationToken stop)
        {
            server._logger.MessageRejected(id, error);
            await connection.SendAsync(NodeAgentCodec.Encode(new NodeAgentMessage.Ack(error)), null, stop).ConfigureAwait(false);
            return _helloDone; // before a valid hello, any bad message ends the session
        }

        /// <summary>Returns the ack's error and whether to close the connection after sending it.</summary>
        private async Task<(string? Error, bool Close)> HandleAsync(SeqPacket packet, CancellationToken stop)
        {
            var fd = packet.Fd;
            try
            {
                NodeAgentMessage message;
                try
                {
                    message = NodeAgentCodec.Decode(packet.Payload);
                }
                catch (FormatException e)
                {
                    return Reject(e.Message);
                }

                if (message is NodeAgentMessage.Hello hello)
                {
                    if (fd is not null) return Reject("\"hello\" must not carry a file descriptor");
                    if (_helloDone) return Reject("duplicate \"hello\"");
                    if (hello.Version != NodeAgentCodec.ProtocolVersion)
                        return Reject($"unsupported protocol version {hello.Version}; this daemon speaks version {NodeAgentCodec.ProtocolVersion}", close: true);
                    _helloDone = true;
                    return (null, false);
                }
                if (!_helloDone) return Reject($"expected \"hello\" first, got \"{message.WireType}\"", close: true);

                if (message.RequiresNetns && fd is null)
                    return Reject($"\"{message.WireType}\" requires the pod's network namespace as a file descriptor");
                if (!message.RequiresNetns && fd is not null)
                    return Reject($"\"{message.WireType}\" must not carry a file descriptor");

                switch (message)
                {
                    case NodeAgentMessage.Add or NodeAgentMessage.Keep:
                    {
                        var keep = message is NodeAgentMessage.Keep;
                        var pod = keep ? ((NodeAgentMessage.Keep)message).Pod : ((NodeAgentMessage.Add)message).Pod;
                        _seenSinceHello.Add(pod.Uid);
                        var netns = fd!;
                        fd = null; // ownership passes to the handler
                        var error = await CallHandlerAsync(message.WireType, () => server._handler.AddAsync(pod, netns, keep)).ConfigureAwait(false);
                        server._logger.Handled(message.WireType, pod.Uid, error ?? "ok");
                        return (error, false);
                    }
                    case NodeAgentMessage.Delete delete:
                    {
                        _seenSinceHello.Remove(delete.Uid);
                        var error = await CallHandlerAsync("delete", () => server._handler.DeleteAsync(delete.Uid)).ConfigureAwait(false);
                        server._logger.Handled("delete", delete.Uid, error ?? "ok");
                        return (error, false);
                    }
                    case NodeAgentMessage.SnapshotSent:
                    {
                        if (_snapshotDone) return Reject("duplicate \"snapshotSent\"");
                        _snapshotDone = true;
                        var uids = _seenSinceHello.ToHashSet(StringComparer.Ordinal);
                        var error = await CallHandlerAsync("snapshotSent", async () =>
                        {
                            await server._handler.SnapshotCompleteAsync(uids).ConfigureAwait(false);
                            return null;
                        }).ConfigureAwait(false);
                        server._logger.SnapshotComplete(uids.Count);
                        return (error, false);
                    }
                    default:
                        return Reject($"unexpected \"{message.WireType}\" from the node agent");
                }
            }
            finally
            {
                fd?.Dispose();
            }
        }

        /// <summary>An error ack; before a valid hello every error also ends the session.</summary>
        private (string? Error, bool Close) Reject(string error, bool close = false)
        {
            server._logger.MessageRejected(id, error);
            return (error, close || !_helloDone);
        }

        private async Task<string?> CallHandlerAsync(string messageType, Func<Task<string?>> call)
        {
            try
            {
                return await call().ConfigureAwait(false);
            }
            catch (Exception e)
            {
                server._logger.HandlerFailed(e, messageType);
                return $"{messageType} failed in the daemon: {e.Message}";
            }
        }
    }
}

using System.Buffers;
using System.IO.Pipelines;
using System.Runtime.CompilerServices;
using Ambient.Http2;
using Ambient.Http2.Frames;
using Ambient.Waypoint.Resilience;

namespace Ambient.Waypoint.Forwarding;

/// <summary>
/// An open HBONE tunnel as a <see cref="Stream"/>, for APIs that want one (SocketsHttpHandler's ConnectCallback).
/// Reads copy out of the stream's DATA pipe (credit goes back as bytes are taken); writes become DATA frames.
/// Disposing behaves like closing a TCP socket: END_STREAM when everything received was read, RST_STREAM when
/// unread data was left behind (the kernel answers unread data with a reset too).
/// <para>
/// When the tunnel counts against a service's connection limit, <paramref name="connection"/> is its record: writes
/// tell it which request is using it (so the limiter knows idle from busy), disposing gives the permit back, and
/// <see cref="Abort"/> is how the limiter closes it when idle.
/// </para>
/// </summary>
public sealed class HboneStream(Http2Stream stream, UpstreamConnection? connection = null) : Stream, IUpstreamTransport
{
    private readonly PipeReader _input = stream.Input;
    private bool _inputDone;
    private int _disposed;
    private volatile bool _aborted;

    public Http2Stream Tunnel { get; } = stream;

    public override bool CanRead => true;
    public override bool CanWrite => true;
    public override bool CanSeek => false;

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (_inputDone || buffer.IsEmpty)
            return 0;
        while (true)
        {
            if (!_input.TryRead(out var result))
                result = await _input.ReadAsync(cancellationToken).ConfigureAwait(false);
            var data = result.Buffer;
            if (!data.IsEmpty)
            {
                int n = (int)Math.Min(buffer.Length, data.Length);
                data.Slice(0, n).CopyTo(buffer.Span);
                _input.AdvanceTo(data.GetPosition(n));
                return n;
            }
            _input.AdvanceTo(data.End);
            if (result.IsCompleted || Volatile.Read(ref _disposed) != 0)
            {
                _inputDone = true;
                return 0;
            }
            // Canceled (CancelPendingRead) with nothing buffered and not closing: read again.
        }
    }

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (buffer.IsEmpty) return ValueTask.CompletedTask;
        // An evicted idle connection: fail like a closed socket, so the HTTP client retries on another connection.
        if (_aborted) return ValueTask.FromException(new IOException("the upstream connection was closed as idle (connection limit)"));
        connection?.OnWrite();
        return Tunnel.WriteAsync(buffer, cancellationToken);
    }

    /// <summary>Closes the tunnel at once (RST_STREAM); for an idle connection the connection limit needs back.</summary>
    public void Abort()
    {
        _aborted = true;
        Tunnel.Reset(Http2ErrorCode.Cancel);
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
        => ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
        => WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    // Synchronous callers are rare (SocketsHttpHandler is async throughout); block rather than refuse.
    public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();
    public override void Write(byte[] buffer, int offset, int count) => WriteAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

    // Every write is handed to the HTTP/2 connection's output at once; there is nothing of ours to flush.
    public override void Flush() { }
    public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    protected override void Dispose(bool disposing)
    {
        if (disposing && Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            Close(Tunnel, _input, _inputDone);
            connection?.Close();
        }
        base.Dispose(disposing);
    }

    public override ValueTask DisposeAsync()
    {
        Dispose(true);
        GC.SuppressFinalize(this);
        return ValueTask.CompletedTask;
    }

    private static void Close(Http2Stream tunnel, PipeReader input, bool inputDone)
    {
        bool unread = false;
        try
        {
            if (!inputDone && input.TryRead(out var pending))
            {
                unread = !pending.Buffer.IsEmpty;
                input.AdvanceTo(pending.Buffer.Start);
            }
        }
        catch (IOException)
        {
            // Reset already: nothing to say to the peer.
        }
        catch (InvalidOperationException)
        {
            // A read is pending (an HTTP/2 connection's read loop always has one), so nothing is waiting unread.
            // Wake it: it sees the stream closing and returns end-of-stream.
            input.CancelPendingRead();
        }
        if (unread)
            tunnel.Reset(Http2ErrorCode.Cancel);
        else
            tunnel.CompleteOutput();
        input.Complete();
    }

    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
}

using System.IO.Pipelines;
using Ambient.Http2.Frames;

namespace Ambient.Http2;

/// <summary>
/// One HTTP/2 stream. Incoming DATA is read from <see cref="Input"/>; outgoing DATA is sent with
/// <see cref="WriteAsync"/> (which waits for flow-control credit) and ended with <see cref="CompleteOutput"/>.
/// State changes happen under the owning connection's lock; the read loop is the only writer of the input pipe.
/// </summary>
public sealed class Http2Stream
{
    private readonly TaskCompletionSource<IReadOnlyList<HeaderField>> _responseHeaders =
        new(TaskCreationOptions.RunContinuationsAsynchronously);

    internal Http2Stream(Http2Connection connection, int id, long sendWindow, int receiveWindow)
    {
        Connection = connection;
        Id = id;
        SendWindow = sendWindow;
        ReceiveWindow = receiveWindow;
        InputPipe = new Pipe(new PipeOptions(pool: Ambient.Buffers.MeshMemoryPool.Instance, pauseWriterThreshold: 0, resumeWriterThreshold: 0,
            minimumSegmentSize: 16 * 1024, useSynchronizationContext: false));
        Input = new StreamInputReader(InputPipe.Reader, this);
    }

    public Http2Connection Connection { get; }
    public int Id { get; }

    /// <summary>The request headers (server side).</summary>
    public IReadOnlyList<HeaderField> RequestHeaders { get; internal set; } = [];

    /// <summary>The final response headers (client side); faults if the stream is reset first.</summary>
    public Task<IReadOnlyList<HeaderField>> ResponseHeaders => _responseHeaders.Task;

    /// <summary>DATA from the peer. Completes at END_STREAM; faults with <see cref="Http2StreamResetException"/> on reset.</summary>
    public PipeReader Input { get; }

    // ---- state below is guarded by the connection lock ----
    internal Pipe InputPipe { get; }
    internal long SendWindow;
    internal int ReceiveWindow;
    internal int PendingCredit;
    /// <summary>DATA bytes in <see cref="InputPipe"/> the application has not consumed yet (connection credit owed).</summary>
    internal int BufferedInput;
    /// <summary>Environment.TickCount64 when the stream was opened (rapid-reset accounting).</summary>
    internal long OpenedAt = Environment.TickCount64;
    internal bool RemoteClosed;
    internal bool LocalClosed;
    internal bool HeadersSent;
    internal bool InputAbandoned;
    internal Http2ErrorCode? ResetCode;
    internal bool ResetByPeer;
    internal TaskCompletionSource? SendSignal;

    public bool IsReset => ResetCode is not null;

    public ValueTask SendHeadersAsync(IReadOnlyList<HeaderField> headers, bool endStream = false)
    {
        Connection.SendHeaders(this, headers, endStream);
        return ValueTask.CompletedTask;
    }

    /// <summary>Sends DATA, waiting for stream and connection flow-control credit as needed.</summary>
    public ValueTask WriteAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken = default)
        => Connection.WriteDataAsync(this, data, cancellationToken);

    /// <summary>Half-closes our side (END_STREAM).</summary>
    public void CompleteOutput() => Connection.EndStream(this);

    /// <summary>Abandons the stream in both directions (RST_STREAM).</summary>
    public void Reset(Http2ErrorCode code = Http2ErrorCode.Cancel) => Connection.ResetStream(this, code);

    internal void OnInputConsumed(int bytes) => Connection.OnInputConsumed(this, bytes);
    internal void OnInputAbandoned() => Connection.OnInputAbandoned(this);
    internal void SetResponseHeaders(IReadOnlyList<HeaderField> headers) => _responseHeaders.TrySetResult(headers);
    internal void FailResponseHeaders(Exception e) => _responseHeaders.TrySetException(e);
}

/// <summary>The stream was reset (by the peer, by us, or because its connection ended).</summary>
public sealed class Http2StreamResetException(Http2ErrorCode code, string message) : IOException(message)
{
    public Http2ErrorCode Code { get; } = code;
}

using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using Ambient.Buffers;
using Ambient.Hbone;
using Ambient.Http2;
using Ambient.Http2.Frames;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http.Features;

namespace Ambient.Waypoint.Transport;

/// <summary>
/// One admitted HBONE CONNECT stream as a Kestrel connection, with the socket transport's semantics: two pumps
/// move bytes between the stream and Kestrel's pipes. The input pump is what lets Kestrel notice a client going
/// away while it is not reading (an HTTP/1.1 request whose body is done): the tunnel's END_STREAM or RST_STREAM
/// fires <see cref="ConnectionClosed"/> at once, as a FIN or reset does on a socket, and Kestrel aborts the request
/// (so YARP cancels the upstream). It costs one copy into pooled segments; flow-control credit goes back as the
/// pump copies, and the small pause threshold keeps what it holds beyond the stream window to 64 KiB.
/// Output: a clean end of Kestrel's output is END_STREAM; an abort is RST_STREAM.
/// </summary>
internal sealed class TunnelConnection : ConnectionContext,
    IConnectionIdFeature, IConnectionTransportFeature, IConnectionItemsFeature, IConnectionLifetimeFeature,
    IConnectionEndPointFeature, IMemoryPoolFeature, IHboneTunnelFeature
{
    private static long _nextId;

    private readonly Http2Stream _stream;
    private readonly Pipe _input;
    private readonly Pipe _output;
    private readonly CancellationTokenSource _closed = new();
    private readonly TaskCompletionSource _disposed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Task _inputPump = Task.CompletedTask;
    private Task _outputPump = Task.CompletedTask;
    private IDictionary<object, object?>? _items;
    private int _aborted;

    public TunnelConnection(HboneRequest request)
    {
        _stream = request.Stream;
        SourceIdentity = request.PeerIdentity;
        OriginalClient = request.OriginalClient;
        Target = request.Target ?? throw new ArgumentException("an admitted tunnel has an ip:port target", nameof(request));
        PeerEndPoint = request.RemoteEndPoint;
        // Kestrel fills HttpContext.Connection from these: the app sees the real client and the address it dialled.
        RemoteEndPoint = OriginalClient ?? PeerEndPoint;
        LocalEndPoint = Target;
        ConnectionId = "hbone-" + Interlocked.Increment(ref _nextId).ToString(System.Globalization.CultureInfo.InvariantCulture);
        _input = new Pipe(new PipeOptions(pool: MeshMemoryPool.Instance, pauseWriterThreshold: 64 * 1024,
            resumeWriterThreshold: 32 * 1024, minimumSegmentSize: 16 * 1024, useSynchronizationContext: false));
        // Pause Kestrel's writes at 1 MiB unsent: the tunnel's flow control is the real bound, this only keeps a
        // slow HBONE peer from growing our buffers past what the stream window would let out anyway.
        _output = new Pipe(new PipeOptions(pool: MeshMemoryPool.Instance, pauseWriterThreshold: 1024 * 1024,
            resumeWriterThreshold: 512 * 1024, minimumSegmentSize: 16 * 1024, useSynchronizationContext: false));
        Transport = new DuplexPipe(_input.Reader, _output.Writer);
        var features = new FeatureCollection();
        features.Set<IConnectionIdFeature>(this);
        features.Set<IConnectionTransportFeature>(this);
        features.Set<IConnectionItemsFeature>(this);
        features.Set<IConnectionLifetimeFeature>(this);
        features.Set<IConnectionEndPointFeature>(this);
        features.Set<IMemoryPoolFeature>(this);
        features.Set<IHboneTunnelFeature>(this);
        Features = features;
    }

    public override string ConnectionId { get; set; }
    public override IFeatureCollection Features { get; }
    public override IDictionary<object, object?> Items
    {
        get => _items ??= new ConnectionItems();
        set => _items = value;
    }
    public override IDuplexPipe Transport { get; set; }
    public override CancellationToken ConnectionClosed { get => _closed.Token; set { } }
    public override EndPoint? LocalEndPoint { get; set; }
    public override EndPoint? RemoteEndPoint { get; set; }
    public MemoryPool<byte> MemoryPool => MeshMemoryPool.Instance;

    public string? SourceIdentity { get; }
    public IPEndPoint? OriginalClient { get; }
    public IPEndPoint Target { get; }
    public IPEndPoint PeerEndPoint { get; }

    /// <summary>Completes when Kestrel is done with the connection; the HBONE stream handler waits on it.</summary>
    public Task Completion => _disposed.Task;

    /// <summary>Starts moving bytes. Call after the 200 is on the wire (no DATA before HEADERS).</summary>
    public void Start()
    {
        _inputPump = PumpInputAsync();
        _outputPump = PumpOutputAsync();
    }

    private async Task PumpInputAsync()
    {
        var source = _stream.Input;
        var target = _input.Writer;
        Exception? error = null;
        bool clientEnded = false;
        try
        {
            while (true)
            {
                var result = await source.ReadAsync().ConfigureAwait(false);
                foreach (var segment in result.Buffer)
                    target.Write(segment.Span);
                source.AdvanceTo(result.Buffer.End);
                var flush = await target.FlushAsync().ConfigureAwait(false);
                // Completed: the client ended its side. Canceled: we are disposing. Flush completed: Kestrel stopped reading.
                clientEnded = result.IsCompleted;
                if (result.IsCompleted || result.IsCanceled || flush.IsCompleted)
                    break;
            }
        }
        catch (IOException e)
        {
            // RST_STREAM (the client's connection was reset) or the HBONE connection ended.
            error = new ConnectionResetException(e.Message, e);
            clientEnded = true;
        }
        catch (InvalidOperationException)
        {
            // Kestrel completed its input reader while we were flushing: it is done reading.
        }
        await source.CompleteAsync().ConfigureAwait(false);
        await target.CompleteAsync(error).ConfigureAwait(false);
        // Only the client going away closes the connection. When Kestrel itself stopped reading (it answered a
        // protocol error with GOAWAY, say) it is still writing: telling it the client left would make it abort,
        // and the reset could overtake its last frames.
        if (clientEnded)
            CancelClosed();
    }

    private async Task PumpOutputAsync()
    {
        var reader = _output.Reader;
        Exception? error = null;
        try
        {
            while (true)
            {
                var result = await reader.ReadAsync().ConfigureAwait(false);
                var buffer = result.Buffer;
                foreach (var segment in buffer)
                {
                    if (!segment.IsEmpty)
                        await _stream.WriteAsync(segment).ConfigureAwait(false);
                }
                reader.AdvanceTo(buffer.End);
                if (result.IsCanceled || Volatile.Read(ref _aborted) != 0)
                    return; // aborted: the stream was reset already
                if (result.IsCompleted)
                {
                    _stream.CompleteOutput();
                    return;
                }
            }
        }
        catch (Exception e) when (e is IOException or InvalidOperationException or ObjectDisposedException)
        {
            // The stream was reset (by the peer or its connection ending): Kestrel's next write fails with this.
            error = e;
            _stream.Reset(Http2ErrorCode.Cancel);
            CancelClosed();
        }
        finally
        {
            await reader.CompleteAsync(error).ConfigureAwait(false);
        }
    }

    public override void Abort(ConnectionAbortedException abortReason)
    {
        if (Interlocked.Exchange(ref _aborted, 1) != 0)
            return;
        _stream.Reset(Http2ErrorCode.Cancel);
        _output.Reader.CancelPendingRead();
        CancelClosed();
    }

    private void CancelClosed()
    {
        try
        {
            _closed.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // Disposed already: Kestrel is done with the connection.
        }
    }

    public override async ValueTask DisposeAsync()
    {
        // Kestrel completes its ends before disposing; completing again is harmless and covers an early failure.
        await _output.Writer.CompleteAsync().ConfigureAwait(false);
        await _input.Reader.CompleteAsync().ConfigureAwait(false);
        _stream.Input.CancelPendingRead(); // an idle client: the input pump waits for bytes that no one wants now
        await _outputPump.ConfigureAwait(false);
        await _inputPump.ConfigureAwait(false);
        _closed.Dispose();
        _disposed.TrySetResult();
    }

    private sealed class DuplexPipe(PipeReader input, PipeWriter output) : IDuplexPipe
    {
        public PipeReader Input { get; } = input;
        public PipeWriter Output { get; } = output;
    }
}

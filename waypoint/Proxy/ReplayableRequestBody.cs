using System.Buffers;
using System.Net;
using System.Net.Http;
using System.Runtime.CompilerServices;

namespace Ambient.Waypoint.Proxy;

/// <summary>
/// The client's request body as the forwarder reads it when the route may need it again (retries, mirrors), like
/// Envoy's per-request buffer: bytes stream through to the upstream as they arrive (nothing waits for the end, so
/// gRPC streams keep flowing) and are also kept, up to <see cref="MaxBufferedBytes"/>, in one pooled array. A
/// retry replays the kept bytes and then goes on with the rest from the client; a mirror is sent the kept body
/// once it is complete. A body that outgrows the limit stops being kept: the attempt in progress goes on
/// streaming it, but it is not retried and not mirrored.
/// <para>
/// One reader at a time (the forwarder's copy of the current attempt; the pipeline rewinds between attempts,
/// after the forwarder has stopped reading). Mirrors hold a reference and read the kept bytes only after the body
/// is complete, when they no longer change. The array goes back to the pool when the last holder lets go. Per read:
/// a copy into the array (which doubles as it grows), no allocation.
/// </para>
/// </summary>
internal sealed class ReplayableRequestBody : Stream
{
    /// <summary>
    /// Bodies up to this size are kept for retries and mirrors (Envoy's default per-request buffer limit is much
    /// larger; 64 KiB covers typical JSON/form/unary gRPC bodies without holding much memory per request).
    /// </summary>
    public const int MaxBufferedBytes = 64 * 1024;

    private const int InitialCapacity = 4 * 1024;
    private const int Idle = 0, Reading = 1, Disposed = 2;

    private readonly Stream _source;
    private readonly int _limit;
    private readonly long? _declaredLength;
    private byte[]? _buffer;
    private int _length;
    private int _position;
    private long _bytesRead;
    private bool _sourceDone;
    private volatile bool _overflowed;
    private volatile bool _stopKeeping;
    private int _references = 1;
    private int _state;
    private TaskCompletionSource<bool>? _completion;

    public ReplayableRequestBody(Stream source, long? declaredLength, int limit = MaxBufferedBytes)
    {
        _source = source;
        _declaredLength = declaredLength;
        _limit = limit;
    }

    /// <summary>Every byte read so far is kept: another attempt can replay the body.</summary>
    public bool CanReplay => !_overflowed && !_stopKeeping;

    /// <summary>The body outgrew the limit (it is streamed once, without retries or mirrors).</summary>
    public bool Overflowed => _overflowed;

    /// <summary>Bytes read from the client so far.</summary>
    public long BytesRead => Volatile.Read(ref _bytesRead);

    /// <summary>The whole body, once complete (for mirrors, which hold a reference).</summary>
    public ReadOnlyMemory<byte> Kept => _buffer is { } buffer ? buffer.AsMemory(0, _length) : ReadOnlyMemory<byte>.Empty;

    /// <summary>Starts the next attempt from the first byte. Only while <see cref="CanReplay"/>, and not during a read.</summary>
    public void Rewind()
    {
        if (!CanReplay) throw new InvalidOperationException("the request body was not kept: it cannot be sent again");
        _position = 0;
    }

    /// <summary>
    /// A mirror will want the body: keeps it (a response does not end the keeping) and returns a task that says,
    /// when the body has been read to its end, whether it was kept whole. Call before the first read; pair with
    /// <see cref="ReleaseMirror"/>.
    /// </summary>
    public Task<bool> AddMirror()
    {
        Interlocked.Increment(ref _references);
        return (_completion ??= new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously)).Task;
    }

    public void ReleaseMirror() => Release();

    /// <summary>The response is going to the client, so no attempt follows: stop keeping unless a mirror needs the body.</summary>
    public void StopKeeping()
    {
        if (_completion is null) _stopKeeping = true;
    }

    /// <summary>
    /// Reads what the client has not sent through yet, keeping it for the mirrors (the upstream may have answered
    /// without reading the whole body). Stops at the limit.
    /// </summary>
    public async Task ReadRestForMirrorsAsync(CancellationToken cancellationToken)
    {
        if (_completion is null || _sourceDone || !CanReplay) return;
        _position = _length; // the kept part is there already
        var scratch = ArrayPool<byte>.Shared.Rent(16 * 1024);
        try
        {
            while (CanReplay && await ReadAsync(scratch, cancellationToken).ConfigureAwait(false) > 0)
            {
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(scratch);
        }
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public override async ValueTask<int> ReadAsync(Memory<byte> destination, CancellationToken cancellationToken = default)
    {
        // A read after the request ended (a forwarder's late copy) must not touch an array that went back to the pool.
        if (Interlocked.CompareExchange(ref _state, Reading, Idle) != Idle) return 0;
        try
        {
            if (!_overflowed && _position < _length)
            {
                int replayed = Math.Min(destination.Length, _length - _position);
                _buffer.AsSpan(_position, replayed).CopyTo(destination.Span);
                _position += replayed;
                return replayed;
            }
            if (_sourceDone) return 0;
            // A zero-byte read waits for data without taking any: pass it through.
            int read = await _source.ReadAsync(destination, cancellationToken).ConfigureAwait(false);
            if (destination.IsEmpty) return 0;
            if (read == 0)
            {
                _sourceDone = true;
                _completion?.TrySetResult(!_overflowed);
                return 0;
            }
            _bytesRead += read;
            Keep(destination.Span[..read]);
            return read;
        }
        finally
        {
            if (Interlocked.CompareExchange(ref _state, Idle, Reading) == Disposed) Release();
        }
    }

    private void Keep(ReadOnlySpan<byte> data)
    {
        if (_overflowed) return;
        if (_stopKeeping)
        {
            DropBuffer();
            return;
        }
        int needed = _length + data.Length;
        if (needed > _limit)
        {
            _overflowed = true;
            DropBuffer(); // no mirror reads it: they wait for a completion that now says false
            _completion?.TrySetResult(false);
            return;
        }
        if (_buffer is null || _buffer.Length < needed)
        {
            int capacity = _buffer is null && _declaredLength is { } declared && declared <= _limit
                ? (int)declared
                : Math.Min(_limit, Math.Max(needed, Math.Max(InitialCapacity, (_buffer?.Length ?? 0) * 2)));
            var grown = ArrayPool<byte>.Shared.Rent(Math.Max(capacity, needed));
            if (_buffer is not null)
            {
                _buffer.AsSpan(0, _length).CopyTo(grown);
                ArrayPool<byte>.Shared.Return(_buffer);
            }
            _buffer = grown;
        }
        data.CopyTo(_buffer.AsSpan(_length));
        _length = needed;
        _position = needed;
    }

    private void DropBuffer()
    {
        if (_buffer is { } buffer)
        {
            _buffer = null;
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private void Release()
    {
        if (Interlocked.Decrement(ref _references) == 0) DropBuffer();
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            var previous = Interlocked.Exchange(ref _state, Disposed);
            if (previous == Disposed) return;
            _completion?.TrySetResult(false); // not complete by now: the mirrors go without
            if (previous == Idle) Release(); // else the read in progress releases on its way out
        }
        base.Dispose(disposing);
    }

    public override ValueTask DisposeAsync()
    {
        Dispose(true);
        GC.SuppressFinalize(this);
        return ValueTask.CompletedTask;
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
        => ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    // The forwarder reads asynchronously; a synchronous caller blocks rather than fails.
    public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override void Flush() { }
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}

/// <summary>A mirror's copy of a kept request body (sent once the body is complete).</summary>
internal sealed class KeptBodyContent(ReplayableRequestBody body) : HttpContent
{
    protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) => SerializeToStreamAsync(stream, context, default);

    protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
        => stream.WriteAsync(body.Kept, cancellationToken).AsTask();

    protected override bool TryComputeLength(out long length)
    {
        length = body.Kept.Length;
        return true;
    }
}

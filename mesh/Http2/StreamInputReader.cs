using System.Buffers;
using System.IO.Pipelines;

namespace Ambient.Http2;

/// <summary>
/// The application's view of a stream's incoming DATA. Wraps the stream's buffer pipe and reports what the
/// application consumed, so flow-control credit (WINDOW_UPDATE) is returned only for bytes actually taken:
/// a reader that stops reading stalls only its own stream.
/// </summary>
internal sealed class StreamInputReader(PipeReader inner, Http2Stream stream) : PipeReader
{
    private ReadOnlySequence<byte> _last;

    public override bool TryRead(out ReadResult result)
    {
        bool ok = inner.TryRead(out result);
        if (ok)
            _last = result.Buffer;
        return ok;
    }

    // Pooled state machine: a read that waits is the common case in a relay; don't allocate one each time.
    [System.Runtime.CompilerServices.AsyncMethodBuilder(typeof(System.Runtime.CompilerServices.PoolingAsyncValueTaskMethodBuilder<>))]
    public override async ValueTask<ReadResult> ReadAsync(CancellationToken cancellationToken = default)
    {
        var result = await inner.ReadAsync(cancellationToken).ConfigureAwait(false);
        _last = result.Buffer;
        return result;
    }

    public override void AdvanceTo(SequencePosition consumed) => AdvanceTo(consumed, consumed);

    public override void AdvanceTo(SequencePosition consumed, SequencePosition examined)
    {
        long n = _last.Slice(0, consumed).Length;
        _last = default;
        inner.AdvanceTo(consumed, examined);
        if (n > 0)
            stream.OnInputConsumed((int)n);
    }

    public override void CancelPendingRead() => inner.CancelPendingRead();

    public override void Complete(Exception? exception = null)
    {
        inner.Complete(exception);
        stream.OnInputAbandoned();
    }
}

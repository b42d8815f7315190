using System.Buffers;
using System.IO.Pipelines;

namespace Ambient.Http2;

/// <summary>
/// The connection's outgoing byte path. Frames are serialised synchronously into an in-memory pipe under the
/// connection lock (so writing never awaits the network and the read loop never blocks on a slow peer); a single
/// pump copies the pipe to the transport. <see cref="Buffered"/> tells DATA writers when to wait.
/// </summary>
internal sealed class Http2Output
{
    private readonly Pipe _pipe = new(new PipeOptions(
        pauseWriterThreshold: 0, resumeWriterThreshold: 0, minimumSegmentSize: 64 * 1024, useSynchronizationContext: false));
    private readonly Stream _transport;
    private long _buffered;

    public Http2Output(Stream transport) => _transport = transport;

    /// <summary>Only use under the connection lock, followed by <see cref="Commit"/>.</summary>
    public PipeWriter Writer => _pipe.Writer;

    /// <summary>Bytes handed to the output but not yet written to the transport.</summary>
    public long Buffered => Volatile.Read(ref _buffered);

    /// <summary>Called when the pump drains the buffer below half of <c>lowWater</c>.</summary>
    public Action? Drained { get; set; }
    public long LowWater { get; set; } = 512 * 1024;

    /// <summary>Publishes what was written since the last commit. Call under the connection lock.</summary>
    public void Commit()
    {
        long n = _pipe.Writer.UnflushedBytes;
        if (n == 0)
            return;
        Interlocked.Add(ref _buffered, n);
        // With pausing disabled this completes synchronously: it only wakes the pump.
        var flush = _pipe.Writer.FlushAsync();
        if (!flush.IsCompleted)
            flush.AsTask().GetAwaiter().GetResult();
    }

    /// <summary>No more frames. The pump finishes sending what is buffered, then ends.</summary>
    public void Complete() => _pipe.Writer.Complete();

    public async Task PumpAsync()
    {
        var reader = _pipe.Reader;
        try
        {
            while (true)
            {
                var result = await reader.ReadAsync().ConfigureAwait(false);
                var buffer = result.Buffer;
                foreach (var segment in buffer)
                    await _transport.WriteAsync(segment).ConfigureAwait(false);
                await _transport.FlushAsync().ConfigureAwait(false);
                long sent = buffer.Length;
                reader.AdvanceTo(buffer.End);
                long left = Interlocked.Add(ref _buffered, -sent);
                if (left < LowWater && left + sent >= LowWater)
                    Drained?.Invoke();
                if (result.IsCompleted || result.IsCanceled)
                    break;
            }
        }
        finally
        {
            await reader.CompleteAsync().ConfigureAwait(false);
        }
    }
}

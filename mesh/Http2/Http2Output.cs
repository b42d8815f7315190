using System.Buffers;
using System.IO.Pipelines;
using System.Net.Security;
using System.Net.Sockets;

namespace Ambient.Http2;

/// <summary>
/// The connection's outgoing byte path. Frames are serialised synchronously into an in-memory pipe under the
/// connection lock (so writing never awaits the network and the read loop never blocks on a slow peer); a single
/// pump copies the pipe to the transport. <see cref="Buffered"/> tells DATA writers when to wait.
/// </summary>
internal sealed class Http2Output
{
    private readonly Pipe _pipe = new(new PipeOptions(
        pool: Ambient.Buffers.MeshMemoryPool.Instance, pauseWriterThreshold: 0, resumeWriterThreshold: 0, minimumSegmentSize: 64 * 1024, useSynchronizationContext: false));
    private readonly Stream _transport;
    // After Complete, frames still produced by the read loop (PING/SETTINGS acks, WINDOW_UPDATE, RST_STREAM while a
    // drained connection waits for the peer to close) land here and are dropped, instead of throwing from a
    // completed PipeWriter. Guarded by the connection lock like the pipe writer.
    private readonly ArrayBufferWriter<byte> _discard = new(256);
    private long _buffered;
    private bool _completed;

    public Http2Output(Stream transport) => _transport = transport;

    /// <summary>Only use under the connection lock, followed by <see cref="Commit"/>.</summary>
    public IBufferWriter<byte> Writer => _completed ? _discard : _pipe.Writer;

    /// <summary>Bytes written since the last <see cref="Commit"/>. Under the connection lock.</summary>
    public long Unflushed => _completed ? 0 : _pipe.Writer.UnflushedBytes;

    /// <summary>Bytes handed to the output but not yet written to the transport.</summary>
    public long Buffered => Volatile.Read(ref _buffered);

    /// <summary>Called when the pump drains the buffer below <see cref="LowWater"/>.</summary>
    public Action? Drained { get; set; }
    public long LowWater { get; set; } = 512 * 1024;

    /// <summary>Publishes what was written since the last commit. Call under the connection lock.</summary>
    public void Commit()
    {
        if (_completed)
        {
            _discard.ResetWrittenCount();
            return;
        }
        long n = _pipe.Writer.UnflushedBytes;
        if (n == 0)
            return;
        Interlocked.Add(ref _buffered, n);
        // With pausing disabled this completes synchronously: it only wakes the pump.
        var flush = _pipe.Writer.FlushAsync();
        if (!flush.IsCompleted)
            flush.AsTask().GetAwaiter().GetResult();
    }

    /// <summary>No more frames (idempotent). The pump finishes sending what is buffered, half-closes, then ends.</summary>
    public void Complete()
    {
        if (_completed)
            return;
        _completed = true;
        _pipe.Writer.Complete();
    }

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
            await HalfCloseAsync().ConfigureAwait(false);
        }
        finally
        {
            await reader.CompleteAsync().ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Everything we will ever send is out: signal end-of-stream while still reading. Closing a socket with unread
    /// input makes the kernel answer with a TCP reset, which can destroy our last frames (a GOAWAY saying why, or
    /// the tail of a drained stream) before the peer reads them; a half-close lets the peer read everything and
    /// close first. Transports without a half-close just skip this.
    /// </summary>
    private async ValueTask HalfCloseAsync()
    {
        try
        {
            switch (_transport)
            {
                case SslStream tls:
                    await tls.ShutdownAsync().ConfigureAwait(false); // close_notify: the peer reads end-of-stream
                    break;
                case NetworkStream net:
                    net.Socket.Shutdown(SocketShutdown.Send);
                    break;
            }
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException or InvalidOperationException or NotSupportedException)
        {
            // The transport is already broken; the connection is ending anyway.
        }
    }
}

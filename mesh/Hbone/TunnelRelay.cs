using System.Buffers;
using System.Net.Sockets;
using Ambient.Http2;
using Ambient.Http2.Frames;

namespace Ambient.Hbone;

/// <summary>Bytes carried each way by one relayed connection, and why it ended if not cleanly.</summary>
public readonly record struct RelayResult(long BytesToTunnel, long BytesFromTunnel, string? Error);

/// <summary>
/// Copies a TCP socket to an HBONE stream and back, both directions at once. A clean end of one direction is
/// passed on as a half-close (FIN ↔ END_STREAM) and the other keeps flowing; an error in either aborts both
/// (socket reset ↔ RST_STREAM). One pooled buffer per direction; nothing allocated per byte.
/// </summary>
public static class TunnelRelay
{
    private const int BufferSize = 64 * 1024;

    /// <param name="cancellationToken">Cancelling aborts the connection both ways (e.g. a policy no longer allows it).</param>
    /// <param name="meter">Told of bytes as they go: forward = socket → tunnel.</param>
    public static async Task<RelayResult> RunAsync(Socket socket, Http2Stream stream, CancellationToken cancellationToken = default, IRelayMeter? meter = null)
    {
        using var abort = new CancellationTokenSource();
        using var external = cancellationToken.Register(() => Fail(socket, stream, abort, Http2ErrorCode.Cancel));
        var toTunnel = SocketToStreamAsync(socket, stream, abort, meter);
        var fromTunnel = StreamToSocketAsync(stream, socket, abort, meter);
        await Task.WhenAll(toTunnel, fromTunnel).ConfigureAwait(false);
        var (up, upError) = toTunnel.Result;
        var (down, downError) = fromTunnel.Result;
        return new RelayResult(up, down, upError ?? downError);
    }

    private static async Task<(long, string?)> SocketToStreamAsync(Socket socket, Http2Stream stream, CancellationTokenSource abort, IRelayMeter? meter)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(BufferSize);
        long total = 0;
        try
        {
            while (true)
            {
                int n = await socket.ReceiveAsync(buffer.AsMemory(), SocketFlags.None, abort.Token).ConfigureAwait(false);
                if (n == 0)
                {
                    stream.CompleteOutput();
                    return (total, null);
                }
                await stream.WriteAsync(buffer.AsMemory(0, n), abort.Token).ConfigureAwait(false);
                total += n;
                meter?.Forward(n);
            }
        }
        catch (Http2StreamResetException r) when (r.Code == Http2ErrorCode.NoError && !abort.IsCancellationRequested)
        {
            // RFC 9113 §8.1: RST_STREAM(NO_ERROR) after a complete response means "send no more", not "fail":
            // the response keeps flowing to the client while what it still sends is read and dropped. (Closing or
            // shutting down receive instead would make the kernel answer new data with a TCP reset and lose the
            // end of the response.)
            try
            {
                int n;
                while ((n = await socket.ReceiveAsync(buffer.AsMemory(), SocketFlags.None, abort.Token).ConfigureAwait(false)) > 0)
                {
                    total += n;
                    meter?.Forward(n);
                }
            }
            catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException) { }
            return (total, null);
        }
        catch (Exception e) when (e is SocketException or IOException or OperationCanceledException or ObjectDisposedException or InvalidOperationException)
        {
            Fail(socket, stream, abort, Http2ErrorCode.Cancel);
            return (total, abort.IsCancellationRequested && e is OperationCanceledException ? null : Describe(e));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static async Task<(long, string?)> StreamToSocketAsync(Http2Stream stream, Socket socket, CancellationTokenSource abort, IRelayMeter? meter)
    {
        long total = 0;
        var input = stream.Input;
        try
        {
            while (true)
            {
                var result = await input.ReadAsync(abort.Token).ConfigureAwait(false);
                var buffer = result.Buffer;
                foreach (var segment in buffer)
                {
                    int sent = 0;
                    while (sent < segment.Length)
                        sent += await socket.SendAsync(segment[sent..], SocketFlags.None, abort.Token).ConfigureAwait(false);
                }
                total += buffer.Length;
                if (buffer.Length > 0) meter?.Backward((int)buffer.Length);
                input.AdvanceTo(buffer.End);
                if (result.IsCompleted)
                {
                    socket.Shutdown(SocketShutdown.Send);
                    await input.CompleteAsync().ConfigureAwait(false);
                    return (total, null);
                }
            }
        }
        catch (Exception e) when (e is SocketException or IOException or OperationCanceledException or ObjectDisposedException)
        {
            Fail(socket, stream, abort, Http2ErrorCode.Cancel);
            await input.CompleteAsync().ConfigureAwait(false);
            return (total, abort.IsCancellationRequested && e is OperationCanceledException ? null : Describe(e));
        }
    }

    /// <summary>Tears both sides down: the socket with a TCP reset, the stream with RST_STREAM.</summary>
    private static void Fail(Socket socket, Http2Stream stream, CancellationTokenSource abort, Http2ErrorCode code)
    {
        if (abort.IsCancellationRequested)
            return;
        abort.Cancel();
        stream.Reset(code);
        try
        {
            socket.LingerState = new LingerOption(true, 0);
            socket.Close();
        }
        catch (ObjectDisposedException) { }
    }

    private static string Describe(Exception e) => e switch
    {
        Http2StreamResetException r => r.Message,
        SocketException s => $"socket: {s.SocketErrorCode}",
        _ => e.Message,
    };
}

using System.Buffers;
using System.Net.Sockets;
using Ambient.Hbone;

namespace Ambient.Daemon.Proxy;

/// <summary>Plain TCP ↔ TCP relay for passthrough and inbound delivery, with the same half-close rules as the tunnel relay.</summary>
public static class SocketRelay
{
    /// <param name="cancellationToken">Cancelling resets both sockets (e.g. a policy no longer allows the connection).</param>
    /// <param name="meter">Told of bytes as they go: forward = a → b.</param>
    public static async Task<RelayResult> RunAsync(Socket a, Socket b, CancellationToken cancellationToken = default, IRelayMeter? meter = null)
    {
        using var abort = new CancellationTokenSource();
        using var external = cancellationToken.Register(() => Abort(abort, a, b));
        var ab = CopyAsync(a, b, abort, meter, forward: true);
        var ba = CopyAsync(b, a, abort, meter, forward: false);
        await Task.WhenAll(ab, ba).ConfigureAwait(false);
        return new RelayResult(ab.Result.Bytes, ba.Result.Bytes, ab.Result.Error ?? ba.Result.Error);
    }

    private static async Task<(long Bytes, string? Error)> CopyAsync(Socket from, Socket to, CancellationTokenSource abort, IRelayMeter? meter, bool forward)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(64 * 1024);
        long total = 0;
        try
        {
            while (true)
            {
                int n = await from.ReceiveAsync(buffer.AsMemory(), SocketFlags.None, abort.Token).ConfigureAwait(false);
                if (n == 0)
                {
                    to.Shutdown(SocketShutdown.Send);
                    return (total, null);
                }
                int sent = 0;
                while (sent < n)
                    sent += await to.SendAsync(buffer.AsMemory(sent, n - sent), SocketFlags.None, abort.Token).ConfigureAwait(false);
                total += n;
                if (meter is not null)
                {
                    if (forward) meter.Forward(n);
                    else meter.Backward(n);
                }
            }
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException)
        {
            if (abort.IsCancellationRequested)
                return (total, null);
            Abort(abort, from, to);
            return (total, e is SocketException se ? $"socket: {se.SocketErrorCode}" : e.Message);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static void Abort(CancellationTokenSource abort, Socket a, Socket b)
    {
        if (abort.IsCancellationRequested)
            return;
        abort.Cancel();
        foreach (var s in (Socket[])[a, b])
        {
            try { s.LingerState = new LingerOption(true, 0); s.Close(); } catch (ObjectDisposedException) { }
        }
    }
}

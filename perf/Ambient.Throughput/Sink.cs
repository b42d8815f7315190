using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace Ambient.Throughput;

/// <summary>
/// The "application" behind the mesh: a TCP server whose first received byte picks what it does with the
/// connection. D = discard until EOF, then answer the 8-byte count of bytes received and close;
/// E = echo until EOF; C = answer one byte and close (short-connection test).
/// </summary>
internal sealed class Sink : IAsyncDisposable
{
    public const byte Discard = (byte)'D';
    public const byte Echo = (byte)'E';
    public const byte Close = (byte)'C';

    private readonly Socket _listener;
    private readonly Task _loop;
    private readonly CancellationTokenSource _stop = new();

    public Sink(IPAddress address)
    {
        _listener = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        _listener.Bind(new IPEndPoint(address, 0));
        _listener.Listen(1024);
        EndPoint = (IPEndPoint)_listener.LocalEndPoint!;
        _loop = AcceptLoopAsync();
    }

    public IPEndPoint EndPoint { get; }

    /// <summary>Connections that ended with an error (anything but a clean EOF).</summary>
    public int Errors => Volatile.Read(ref _errors);
    private int _errors;

    private async Task AcceptLoopAsync()
    {
        while (true)
        {
            Socket socket;
            try { socket = await _listener.AcceptAsync(_stop.Token).ConfigureAwait(false); }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException) { return; }
            _ = ServeAsync(socket);
        }
    }

    private async Task ServeAsync(Socket socket)
    {
        socket.NoDelay = true;
        var buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(64 * 1024);
        try
        {
            using (socket)
            {
                int n = await socket.ReceiveAsync(buffer.AsMemory(0, 1), SocketFlags.None, _stop.Token).ConfigureAwait(false);
                if (n == 0)
                    return;
                switch (buffer[0])
                {
                    case Discard:
                        long total = 0;
                        while ((n = await socket.ReceiveAsync(buffer, SocketFlags.None, _stop.Token).ConfigureAwait(false)) > 0)
                            total += n;
                        BinaryPrimitives.WriteInt64LittleEndian(buffer, total);
                        await Net.SendAllAsync(socket, buffer.AsMemory(0, 8), _stop.Token).ConfigureAwait(false);
                        break;
                    case Echo:
                        while ((n = await socket.ReceiveAsync(buffer, SocketFlags.None, _stop.Token).ConfigureAwait(false)) > 0)
                            await Net.SendAllAsync(socket, buffer.AsMemory(0, n), _stop.Token).ConfigureAwait(false);
                        break;
                    case Close:
                        buffer[0] = (byte)'c';
                        await Net.SendAllAsync(socket, buffer.AsMemory(0, 1), _stop.Token).ConfigureAwait(false);
                        break;
                    default:
                        Interlocked.Increment(ref _errors);
                        return;
                }
                socket.Shutdown(SocketShutdown.Send);
            }
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException)
        {
            if (!_stop.IsCancellationRequested)
                Interlocked.Increment(ref _errors);
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _listener.Dispose();
        await _loop.ConfigureAwait(false);
    }
}

internal static class Net
{
    public static async ValueTask SendAllAsync(Socket socket, ReadOnlyMemory<byte> data, CancellationToken ct)
    {
        while (!data.IsEmpty)
        {
            int n = await socket.SendAsync(data, SocketFlags.None, ct).ConfigureAwait(false);
            data = data[n..];
        }
    }

    /// <summary>Reads exactly <paramref name="buffer"/>.Length bytes; throws on EOF.</summary>
    public static async ValueTask ReceiveExactlyAsync(Socket socket, Memory<byte> buffer, CancellationToken ct)
    {
        while (!buffer.IsEmpty)
        {
            int n = await socket.ReceiveAsync(buffer, SocketFlags.None, ct).ConfigureAwait(false);
            if (n == 0)
                throw new IOException("connection closed early");
            buffer = buffer[n..];
        }
    }
}

using System.Net;
using System.Net.Sockets;

namespace Ambient.Tests.Support;

/// <summary>
/// A TCP echo server: sends back every byte; when the client half-closes, finishes echoing and half-closes too.
/// Counts accepted connections.
/// </summary>
public sealed class EchoServer : IAsyncDisposable
{
    private readonly Socket _listener;
    private readonly Task _loop;
    private int _accepted;

    public EchoServer(IPAddress address, int port = 0) : this(Listen(address, port))
    {
    }

    /// <summary>Serves on an already listening socket (e.g. one made inside a network namespace).</summary>
    public EchoServer(Socket listening)
    {
        _listener = listening;
        _loop = AcceptAsync();
    }

    private static Socket Listen(IPAddress address, int port)
    {
        var s = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        s.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
        s.Bind(new IPEndPoint(address, port));
        s.Listen(1024);
        return s;
    }

    public IPEndPoint EndPoint => (IPEndPoint)_listener.LocalEndPoint!;
    public int Accepted => Volatile.Read(ref _accepted);

    private async Task AcceptAsync()
    {
        while (true)
        {
            Socket s;
            try { s = await _listener.AcceptAsync(); }
            catch { return; }
            Interlocked.Increment(ref _accepted);
            _ = EchoAsync(s);
        }
    }

    private static async Task EchoAsync(Socket s)
    {
        var buffer = new byte[64 * 1024];
        try
        {
            while (true)
            {
                int n = await s.ReceiveAsync(buffer, SocketFlags.None);
                if (n == 0)
                {
                    s.Shutdown(SocketShutdown.Send);
                    break;
                }
                await s.SendAsync(buffer.AsMemory(0, n), SocketFlags.None);
            }
        }
        catch (SocketException) { }
        finally
        {
            await Task.Delay(100);
            s.Dispose();
        }
    }

    public async ValueTask DisposeAsync()
    {
        _listener.Dispose();
        await _loop;
    }
}

using System.Net;
using System.Net.Sockets;

namespace Ambient.Tests.Support;

/// <summary>Minimal SOCKS5 CONNECT client (what curl --socks5 does), for reaching the mesh through a daemon's 15080.</summary>
public static class Socks5Client
{
    public static async Task<Socket> ConnectAsync(IPEndPoint proxy, IPEndPoint target, CancellationToken ct = default)
    {
        var s = await OpenAsync(proxy, ct);
        byte[] request = [5, 1, 0, 1, .. target.Address.GetAddressBytes(), (byte)(target.Port >> 8), (byte)target.Port];
        return await FinishAsync(s, request, target.ToString(), ct);
    }

    public static async Task<Socket> ConnectAsync(IPEndPoint proxy, string host, int port, CancellationToken ct = default)
    {
        var s = await OpenAsync(proxy, ct);
        var name = System.Text.Encoding.ASCII.GetBytes(host);
        byte[] request = [5, 1, 0, 3, (byte)name.Length, .. name, (byte)(port >> 8), (byte)port];
        return await FinishAsync(s, request, $"{host}:{port}", ct);
    }

    private static async Task<Socket> OpenAsync(IPEndPoint proxy, CancellationToken ct)
    {
        var s = new Socket(proxy.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await s.ConnectAsync(proxy, ct);
        await s.SendAsync(new byte[] { 5, 1, 0 }, SocketFlags.None, ct);
        var reply = await ReadExactlyAsync(s, 2, ct);
        if (reply[1] != 0)
            throw new IOException("SOCKS5 proxy refused the no-auth method");
        return s;
    }

    private static async Task<Socket> FinishAsync(Socket s, byte[] request, string target, CancellationToken ct)
    {
        await s.SendAsync(request, SocketFlags.None, ct);
        var reply = await ReadExactlyAsync(s, 10, ct);
        if (reply[1] != 0)
        {
            s.Dispose();
            throw new Socks5RefusedException(reply[1], $"SOCKS5 CONNECT to {target} refused with reply {reply[1]}");
        }
        return s;
    }

    public static async Task<byte[]> ReadExactlyAsync(Socket s, int n, CancellationToken ct)
    {
        var buffer = new byte[n];
        int got = 0;
        while (got < n)
        {
            int r = await s.ReceiveAsync(buffer.AsMemory(got), SocketFlags.None, ct);
            if (r == 0) throw new IOException($"closed after {got} of {n} bytes");
            got += r;
        }
        return buffer;
    }
}

public sealed class Socks5RefusedException(int reply, string message) : IOException(message)
{
    public int Reply { get; } = reply;
}

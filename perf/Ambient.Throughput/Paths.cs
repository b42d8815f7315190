using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace Ambient.Throughput;

/// <summary>A way for the client to reach the sink: straight over TCP, or through the mesh.</summary>
internal abstract class ClientPath
{
    public abstract string Name { get; }

    /// <summary>Returns a connected socket on which bytes reach the sink.</summary>
    public abstract Task<Socket> ConnectAsync(CancellationToken ct);

    protected static Socket NewSocket(AddressFamily family) => new(family, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
}

internal sealed class DirectPath(IPEndPoint sink) : ClientPath
{
    public override string Name => "direct TCP";

    public override async Task<Socket> ConnectAsync(CancellationToken ct)
    {
        var socket = NewSocket(sink.AddressFamily);
        try
        {
            await socket.ConnectAsync(sink, ct).ConfigureAwait(false);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }
}

/// <summary>
/// The user's path without interception: a SOCKS5 client (RFC 1928, no authentication, CONNECT to an IPv4
/// address) talking to daemon A's SOCKS5 port, which tunnels to daemon B over HBONE.
/// </summary>
internal sealed class Socks5Path(IPEndPoint proxy, IPEndPoint target) : ClientPath
{
    public override string Name => "Ambient (SOCKS5 → HBONE)";

    public override async Task<Socket> ConnectAsync(CancellationToken ct)
    {
        var socket = NewSocket(proxy.AddressFamily);
        try
        {
            await socket.ConnectAsync(proxy, ct).ConfigureAwait(false);
            var buffer = new byte[16];
            // Greeting: version 5, one method, "no authentication"; then wait for the choice, as clients do.
            buffer[0] = 5; buffer[1] = 1; buffer[2] = 0;
            await Net.SendAllAsync(socket, buffer.AsMemory(0, 3), ct).ConfigureAwait(false);
            await Net.ReceiveExactlyAsync(socket, buffer.AsMemory(0, 2), ct).ConfigureAwait(false);
            if (buffer[0] != 5 || buffer[1] != 0)
                throw new IOException($"SOCKS5 proxy refused no-auth (method {buffer[1]})");
            // CONNECT to an IPv4 address.
            buffer[0] = 5; buffer[1] = 1; buffer[2] = 0; buffer[3] = 1;
            target.Address.MapToIPv4().TryWriteBytes(buffer.AsSpan(4, 4), out _);
            BinaryPrimitives.WriteUInt16BigEndian(buffer.AsSpan(8), (ushort)target.Port);
            await Net.SendAllAsync(socket, buffer.AsMemory(0, 10), ct).ConfigureAwait(false);
            await Net.ReceiveExactlyAsync(socket, buffer.AsMemory(0, 10), ct).ConfigureAwait(false);
            if (buffer[1] != 0)
                throw new IOException($"SOCKS5 CONNECT to {target} failed: reply {buffer[1]}");
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }
}

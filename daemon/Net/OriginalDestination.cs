using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace Ambient.Daemon.Net;

/// <summary>Reads where a redirected connection was originally going (netfilter's SO_ORIGINAL_DST).</summary>
public static class OriginalDestination
{
    private const int SolIp = 0;
    private const int SolIpv6 = 41;
    private const int SoOriginalDst = 80;
    private const int Ip6tSoOriginalDst = 80;

    /// <summary>
    /// Returns the pre-NAT destination, or null when the connection was not redirected (then the kernel has no
    /// conntrack entry to report, or reports the listener itself).
    /// </summary>
    public static IPEndPoint? Get(Socket socket)
    {
        Span<byte> buffer = stackalloc byte[28];
        try
        {
            int n = socket.AddressFamily == AddressFamily.InterNetworkV6
                ? socket.GetRawSocketOption(SolIpv6, Ip6tSoOriginalDst, buffer)
                : socket.GetRawSocketOption(SolIp, SoOriginalDst, buffer);
            var ep = Parse(buffer[..n]);
            return ep is null || ep.Equals(socket.LocalEndPoint) ? null : ep;
        }
        catch (SocketException)
        {
            return null;
        }
    }

    /// <summary>Parses a Linux sockaddr_in / sockaddr_in6.</summary>
    public static IPEndPoint? Parse(ReadOnlySpan<byte> sockaddr)
    {
        if (sockaddr.Length < 8)
            return null;
        ushort family = BinaryPrimitives.ReadUInt16LittleEndian(sockaddr);
        int port = BinaryPrimitives.ReadUInt16BigEndian(sockaddr[2..]);
        return family switch
        {
            2 => new IPEndPoint(new IPAddress(sockaddr.Slice(4, 4)), port),
            10 when sockaddr.Length >= 24 => new IPEndPoint(new IPAddress(sockaddr.Slice(8, 16)), port),
            _ => null,
        };
    }
}

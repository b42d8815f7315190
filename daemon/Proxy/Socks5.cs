using System.Buffers.Binary;
using System.Net;
using System.Text;

namespace Ambient.Daemon.Proxy;

/// <summary>
/// The SOCKS5 subset (RFC 1928) the local-mode outbound port speaks: no authentication, CONNECT, IPv4, IPv6 or
/// a domain name. Pure parsing; the listener does the I/O. This is how a client on a host without interception
/// tells the daemon where it wants to go (ztunnel offers the same on 15080).
/// </summary>
public static class Socks5
{
    public const byte Version = 5;
    public const byte NoAuthentication = 0;
    public const byte NoAcceptableMethod = 0xff;
    public const byte CommandConnect = 1;

    public enum Reply : byte
    {
        Succeeded = 0,
        GeneralFailure = 1,
        NotAllowed = 2,
        NetworkUnreachable = 3,
        HostUnreachable = 4,
        ConnectionRefused = 5,
        CommandNotSupported = 7,
        AddressTypeNotSupported = 8,
    }

    /// <summary>A CONNECT target: an address, or a name for the daemon to resolve against its services.</summary>
    public readonly record struct Target(IPAddress? Address, string? Host, int Port)
    {
        public override string ToString() => Address is not null ? new IPEndPoint(Address, Port).ToString() : $"{Host}:{Port}";
    }

    /// <summary>Parses the greeting. Returns bytes consumed, 0 if incomplete; throws FormatException when invalid.</summary>
    public static int ParseGreeting(ReadOnlySpan<byte> data, out bool noAuthOffered)
    {
        noAuthOffered = false;
        if (data.Length < 2)
            return 0;
        if (data[0] != Version)
            throw new FormatException($"not SOCKS5 (version byte {data[0]})");
        int n = data[1];
        if (n == 0)
            throw new FormatException("SOCKS5 greeting offers no methods");
        if (data.Length < 2 + n)
            return 0;
        noAuthOffered = data.Slice(2, n).IndexOf(NoAuthentication) >= 0;
        return 2 + n;
    }

    /// <summary>Parses a request. Returns bytes consumed, 0 if incomplete; throws <see cref="Socks5Exception"/> with the reply to send.</summary>
    public static int ParseRequest(ReadOnlySpan<byte> data, out Target target)
    {
        target = default;
        if (data.Length < 4)
            return 0;
        if (data[0] != Version)
            throw new Socks5Exception(Reply.GeneralFailure, $"bad SOCKS5 request version {data[0]}");
        if (data[1] != CommandConnect)
            throw new Socks5Exception(Reply.CommandNotSupported, $"SOCKS5 command {data[1]} is not supported (only CONNECT)");
        int length;
        switch (data[3])
        {
            case 1:
                length = 4 + 4 + 2;
                if (data.Length < length) return 0;
                target = new Target(new IPAddress(data.Slice(4, 4)), null, BinaryPrimitives.ReadUInt16BigEndian(data[8..]));
                break;
            case 4:
                length = 4 + 16 + 2;
                if (data.Length < length) return 0;
                target = new Target(new IPAddress(data.Slice(4, 16)), null, BinaryPrimitives.ReadUInt16BigEndian(data[20..]));
                break;
            case 3:
                if (data.Length < 5) return 0;
                int nameLength = data[4];
                if (nameLength == 0)
                    throw new Socks5Exception(Reply.HostUnreachable, "empty SOCKS5 host name");
                length = 5 + nameLength + 2;
                if (data.Length < length) return 0;
                var name = Encoding.ASCII.GetString(data.Slice(5, nameLength));
                target = IPAddress.TryParse(name, out var ip)
                    ? new Target(ip, null, BinaryPrimitives.ReadUInt16BigEndian(data[(5 + nameLength)..]))
                    : new Target(null, name, BinaryPrimitives.ReadUInt16BigEndian(data[(5 + nameLength)..]));
                break;
            default:
                throw new Socks5Exception(Reply.AddressTypeNotSupported, $"SOCKS5 address type {data[3]} is not supported");
        }
        if (target.Port == 0)
            throw new Socks5Exception(Reply.HostUnreachable, "SOCKS5 target port 0");
        return length;
    }

    /// <summary>Writes a reply with a zero bound address (clients ignore it for CONNECT).</summary>
    public static int WriteReply(Span<byte> dst, Reply reply)
    {
        ReadOnlySpan<byte> bytes = [Version, (byte)reply, 0, 1, 0, 0, 0, 0, 0, 0];
        bytes.CopyTo(dst);
        return bytes.Length;
    }
}

public sealed class Socks5Exception(Socks5.Reply reply, string message) : Exception(message)
{
    public Socks5.Reply Reply { get; } = reply;
}

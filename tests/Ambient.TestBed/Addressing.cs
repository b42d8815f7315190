using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace Ambient.TestBed;

/// <summary>IPv4 arithmetic for the addressing plan.</summary>
internal static class Addressing
{
    public static uint ToUInt32(IPAddress address)
    {
        if (address.AddressFamily != AddressFamily.InterNetwork) throw new ArgumentException($"{address} is not IPv4");
        Span<byte> b = stackalloc byte[4];
        address.TryWriteBytes(b, out _);
        return BinaryPrimitives.ReadUInt32BigEndian(b);
    }

    public static IPAddress FromUInt32(uint value)
    {
        var b = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(b, value);
        return new IPAddress(b);
    }

    public static IPAddress Add(IPAddress address, long offset) => FromUInt32((uint)(ToUInt32(address) + offset));

    /// <summary>Number of addresses in the network.</summary>
    public static long Size(IPNetwork network) => 1L << (32 - network.PrefixLength);

    /// <summary>The <paramref name="index"/>-th sub-network of length <paramref name="prefixLength"/> inside <paramref name="network"/>.</summary>
    public static IPNetwork Subnet(IPNetwork network, int prefixLength, int index)
    {
        if (prefixLength < network.PrefixLength || prefixLength > 30)
            throw new TestBedException($"per-node pod prefix /{prefixLength} does not fit in {network}");
        long count = 1L << (prefixLength - network.PrefixLength);
        if (index >= count) throw new TestBedException($"{network} has room for {count - 1} nodes of /{prefixLength}");
        return new IPNetwork(Add(network.BaseAddress, index * (1L << (32 - prefixLength))), prefixLength);
    }
}

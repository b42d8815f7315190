using Ambient.Http2.Hpack;
using static Ambient.Tests.Hpack.HpackTestHelpers;

namespace Ambient.Tests.Hpack;

public class IntegerCodecTests
{
    // RFC 7541 C.1.1: 10 with a 5-bit prefix.
    [Fact]
    public void C1_1_Encodes10With5BitPrefix()
    {
        Span<byte> buffer = stackalloc byte[8];
        int n = IntegerCodec.Encode(10, 5, 0x00, buffer);
        Assert.Equal("0a", ToHex(buffer[..n]));

        int pos = 0;
        Assert.Equal(10, IntegerCodec.Decode(Hex("0a"), ref pos, 5));
        Assert.Equal(1, pos);
    }

    // RFC 7541 C.1.2: 1337 with a 5-bit prefix -> 1f 9a 0a.
    [Fact]
    public void C1_2_Encodes1337With5BitPrefix()
    {
        Span<byte> buffer = stackalloc byte[8];
        int n = IntegerCodec.Encode(1337, 5, 0x00, buffer);
        Assert.Equal("1f9a0a", ToHex(buffer[..n]));
        Assert.Equal(3, IntegerCodec.GetEncodedLength(1337, 5));

        int pos = 0;
        Assert.Equal(1337, IntegerCodec.Decode(Hex("1f9a0a"), ref pos, 5));
        Assert.Equal(3, pos);
    }

    // RFC 7541 C.1.3: 42 starting at an octet boundary (8-bit prefix) -> 2a.
    [Fact]
    public void C1_3_Encodes42With8BitPrefix()
    {
        Span<byte> buffer = stackalloc byte[8];
        int n = IntegerCodec.Encode(42, 8, 0x00, buffer);
        Assert.Equal("2a", ToHex(buffer[..n]));

        int pos = 0;
        Assert.Equal(42, IntegerCodec.Decode(Hex("2a"), ref pos, 8));
    }

    [Fact]
    public void FlagsArePreservedAndIgnoredOnDecode()
    {
        Span<byte> buffer = stackalloc byte[8];
        int n = IntegerCodec.Encode(1337, 5, 0xE0, buffer);
        Assert.Equal("ff9a0a", ToHex(buffer[..n]));
        int pos = 0;
        Assert.Equal(1337, IntegerCodec.Decode(buffer[..n], ref pos, 5));
    }

    public static IEnumerable<object[]> RoundTripValues()
    {
        int[] values = [0, 1, 2, 6, 7, 8, 14, 15, 16, 30, 31, 32, 62, 63, 64, 126, 127, 128, 254, 255, 256, 1337,
            16383, 16384, 65535, 1 << 21, (1 << 28) - 1, 1 << 28, int.MaxValue - 1, int.MaxValue];
        for (int prefix = 1; prefix <= 8; prefix++)
        {
            foreach (int v in values)
            {
                yield return [v, prefix];
            }
        }
    }

    [Theory]
    [MemberData(nameof(RoundTripValues))]
    public void RoundTrips(int value, int prefixBits)
    {
        Span<byte> buffer = stackalloc byte[IntegerCodec.MaxEncodedLength];
        int n = IntegerCodec.Encode(value, prefixBits, 0, buffer);
        Assert.Equal(IntegerCodec.GetEncodedLength(value, prefixBits), n);
        Assert.Equal(PrefixInteger((ulong)value, prefixBits, 0), buffer[..n].ToArray());

        int pos = 0;
        Assert.Equal(value, IntegerCodec.Decode(buffer[..n], ref pos, prefixBits));
        Assert.Equal(n, pos);

        // Every strict prefix is a truncated integer.
        for (int cut = 0; cut < n; cut++)
        {
            byte[] truncated = buffer[..cut].ToArray();
            int p = 0;
            var ex = Assert.Throws<HpackException>(() => IntegerCodec.Decode(truncated, ref p, prefixBits));
            Assert.Equal(HpackError.Compression, ex.Error);
        }
    }

    [Theory]
    [InlineData(2147483648UL)]           // int.MaxValue + 1
    [InlineData(4294967295UL)]
    [InlineData(34359738367UL)]          // 2^35 - 1: fits in 5 continuation octets but not in an int
    [InlineData(1UL << 40)]
    [InlineData(ulong.MaxValue >> 1)]
    public void OverflowIsACompressionError(ulong value)
    {
        for (int prefix = 1; prefix <= 8; prefix++)
        {
            byte[] encoded = PrefixInteger(value, prefix, 0);
            int pos = 0;
            var ex = Assert.Throws<HpackException>(() => IntegerCodec.Decode(encoded, ref pos, prefix));
            Assert.Equal(HpackError.Compression, ex.Error);
        }
    }

    [Fact]
    public void ExcessiveZeroContinuationOctetsAreRejected()
    {
        // 31 + 0 with six continuation octets: more than any int needs.
        byte[] encoded = Hex("1f 80 80 80 80 80 00");
        int pos = 0;
        Assert.Throws<HpackException>(() => IntegerCodec.Decode(encoded, ref pos, 5));

        // Five continuation octets (redundant zeros) are still accepted.
        pos = 0;
        Assert.Equal(31, IntegerCodec.Decode(Hex("1f 80 80 80 80 00"), ref pos, 5));
    }

    [Fact]
    public void EndlessContinuationIsRejected()
    {
        byte[] encoded = Enumerable.Repeat((byte)0xFF, 100).ToArray();
        int pos = 0;
        Assert.Throws<HpackException>(() => IntegerCodec.Decode(encoded, ref pos, 7));
    }

    [Fact]
    public void EmptyInputIsTruncated()
    {
        int pos = 0;
        Assert.Throws<HpackException>(() => IntegerCodec.Decode(ReadOnlySpan<byte>.Empty, ref pos, 7));
    }

    [Fact]
    public void NegativeValueCannotBeEncoded()
    {
        byte[] buffer = new byte[8];
        Assert.Throws<ArgumentOutOfRangeException>(() => IntegerCodec.Encode(-1, 5, 0, buffer));
    }
}

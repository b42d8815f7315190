using System.Text;
using Ambient.Http2.Hpack;
using static Ambient.Tests.Hpack.HpackTestHelpers;

namespace Ambient.Tests.Hpack;

public class HuffmanTests
{
    private static byte[] Latin1(string s) => Encoding.Latin1.GetBytes(s);

    private static byte[] EncodeBytes(byte[] src)
    {
        byte[] dst = new byte[Huffman.GetEncodedLength(src)];
        int n = Huffman.Encode(src, dst);
        Assert.Equal(dst.Length, n);
        return dst;
    }

    private static byte[] DecodeBytes(byte[] src)
    {
        byte[] dst = new byte[src.Length * 8 / 5 + 1];
        int n = Huffman.Decode(src, dst);
        return dst[..n];
    }

    private static void AssertInvalid(string hex)
    {
        byte[] src = Hex(hex);
        byte[] dst = new byte[64];
        var ex = Assert.Throws<HpackException>(() => Huffman.Decode(src, dst));
        Assert.Equal(HpackError.Compression, ex.Error);
    }

    [Fact]
    public void CodeIsCompleteAndPrefixFree()
    {
        // Kraft equality: the code tree has no unused leaves, so sum(2^-len) == 1.
        long kraft = 0;
        for (int sym = 0; sym <= 256; sym++)
        {
            int len = Huffman.GetCodeLength(sym);
            Assert.InRange(len, 5, 30);
            Assert.True(Huffman.GetCode(sym) < (1u << len), $"code of {sym} wider than its length");
            kraft += 1L << (30 - len);
        }

        Assert.Equal(1L << 30, kraft);

        for (int a = 0; a <= 256; a++)
        {
            for (int b = 0; b <= 256; b++)
            {
                if (a == b)
                {
                    continue;
                }

                int la = Huffman.GetCodeLength(a), lb = Huffman.GetCodeLength(b);
                if (la <= lb)
                {
                    Assert.False(Huffman.GetCode(b) >> (lb - la) == Huffman.GetCode(a), $"{a} is a prefix of {b}");
                }
            }
        }
    }

    [Theory]
    [InlineData(0, 0x1ff8u, 13)]
    [InlineData(1, 0x7fffd8u, 23)]
    [InlineData(10, 0x3ffffffcu, 30)]
    [InlineData(32, 0x14u, 6)]
    [InlineData(48, 0x0u, 5)]
    [InlineData(97, 0x3u, 5)]
    [InlineData(127, 0xffffffcu, 28)]
    [InlineData(128, 0xfffe6u, 20)]
    [InlineData(199, 0x1ffffecu, 25)]
    [InlineData(255, 0x3ffffeeu, 26)]
    [InlineData(256, 0x3fffffffu, 30)]
    public void SpotChecksAgainstAppendixB(int symbol, uint code, int length)
    {
        Assert.Equal(code, Huffman.GetCode(symbol));
        Assert.Equal(length, Huffman.GetCodeLength(symbol));
    }

    // Strings and encodings from RFC 7541 Appendix C.4 and C.6.
    [Theory]
    [InlineData("www.example.com", "f1e3 c2e5 f23a 6ba0 ab90 f4ff")]
    [InlineData("no-cache", "a8eb 1064 9cbf")]
    [InlineData("custom-key", "25a8 49e9 5ba9 7d7f")]
    [InlineData("custom-value", "25a8 49e9 5bb8 e8b4 bf")]
    [InlineData("302", "6402")]
    [InlineData("307", "640e ff")]
    [InlineData("private", "aec3 771a 4b")]
    [InlineData("gzip", "9bd9 ab")]
    [InlineData("Mon, 21 Oct 2013 20:13:21 GMT", "d07a be94 1054 d444 a820 0595 040b 8166 e082 a62d 1bff")]
    [InlineData("Mon, 21 Oct 2013 20:13:22 GMT", "d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff")]
    [InlineData("https://www.example.com", "9d29 ad17 1863 c78f 0b97 c8e9 ae82 ae43 d3")]
    [InlineData("foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1",
        "94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f 9587 3160 65c0 03ed 4ee5 b106 3d50 07")]
    public void MatchesRfcExamples(string text, string hex)
    {
        byte[] expected = Hex(hex);
        Assert.Equal(expected.Length, Huffman.GetEncodedLength(Latin1(text)));
        Assert.Equal(ToHex(expected), ToHex(EncodeBytes(Latin1(text))));
        Assert.Equal(text, Encoding.Latin1.GetString(DecodeBytes(expected)));
    }

    [Fact]
    public void EverySingleByteValueRoundTrips()
    {
        for (int b = 0; b < 256; b++)
        {
            byte[] src = [(byte)b];
            byte[] encoded = EncodeBytes(src);
            Assert.Equal((Huffman.GetCodeLength(b) + 7) / 8, encoded.Length);
            Assert.Equal(src, DecodeBytes(encoded));
        }
    }

    [Fact]
    public void AllByteValuesInOneStringRoundTrip()
    {
        byte[] all = Enumerable.Range(0, 256).Select(i => (byte)i).ToArray();
        Assert.Equal(all, DecodeBytes(EncodeBytes(all)));

        byte[] reversed = all.Reverse().ToArray();
        Assert.Equal(reversed, DecodeBytes(EncodeBytes(reversed)));

        // Every ordered pair, so each code is decoded at every bit alignment.
        var pairs = new List<byte>();
        for (int a = 0; a < 256; a++)
        {
            for (int b = 0; b < 256; b += 17)
            {
                pairs.Add((byte)a);
                pairs.Add((byte)b);
            }
        }

        byte[] pairBytes = pairs.ToArray();
        Assert.Equal(pairBytes, DecodeBytes(EncodeBytes(pairBytes)));
    }

    [Fact]
    public void EveryByteValueAtEveryBitAlignment()
    {
        // Prefix 0..7 copies of '0' (5 bits) shift the following symbol through all alignments mod 8.
        for (int shift = 0; shift < 8; shift++)
        {
            for (int b = 0; b < 256; b++)
            {
                byte[] src = [.. Enumerable.Repeat((byte)'0', shift), (byte)b, (byte)'a'];
                Assert.Equal(src, DecodeBytes(EncodeBytes(src)));
            }
        }
    }

    [Fact]
    public void RandomStringsRoundTrip()
    {
        var random = new Random(7541);
        for (int i = 0; i < 2000; i++)
        {
            byte[] src = new byte[random.Next(0, 300)];
            if (i % 2 == 0)
            {
                random.NextBytes(src);
            }
            else
            {
                for (int j = 0; j < src.Length; j++)
                {
                    src[j] = (byte)random.Next(0x20, 0x7F);
                }
            }

            byte[] encoded = EncodeBytes(src);
            Assert.Equal(src, DecodeBytes(encoded));

            // The char overloads used by the encoder agree with the byte ones.
            string s = Encoding.Latin1.GetString(src);
            Assert.Equal(encoded.Length, Huffman.GetEncodedLength(s.AsSpan()));
            byte[] viaChars = new byte[encoded.Length];
            Assert.Equal(encoded.Length, Huffman.Encode(s.AsSpan(), viaChars));
            Assert.Equal(encoded, viaChars);
        }
    }

    [Fact]
    public void EmptyInputDecodesToEmpty()
    {
        Assert.Equal(0, Huffman.GetEncodedLength(ReadOnlySpan<byte>.Empty));
        Assert.Equal(0, Huffman.Encode(ReadOnlySpan<byte>.Empty, Span<byte>.Empty));
        Assert.Equal(0, Huffman.Decode(ReadOnlySpan<byte>.Empty, Span<byte>.Empty));
    }

    [Fact]
    public void SevenBitsOfPaddingAreAccepted()
    {
        // Symbol 199 is 25 bits: 25 + 7 padding = 4 octets.
        byte[] encoded = EncodeBytes([199]);
        Assert.Equal(4, encoded.Length);
        Assert.Equal(0x7F, encoded[3] & 0x7F);
        Assert.Equal(new byte[] { 199 }, DecodeBytes(encoded));
    }

    [Theory]
    [InlineData("18")]          // 'a' (00011) + padding 000: not a prefix of EOS
    [InlineData("1e")]          // 'a' + padding 110
    [InlineData("1d")]          // 'a' + padding 101
    [InlineData("00")]          // '0' (00000) + padding 000
    [InlineData("f1e3 c2e5 f23a 6ba0 ab90 f4fe")] // www.example.com with the last padding bit cleared
    public void PaddingThatIsNotAllOnesIsRejected(string hex) => AssertInvalid(hex);

    [Theory]
    [InlineData("ff")]          // 8 bits of padding alone
    [InlineData("1f ff")]       // 'a' + 11 one-bits
    [InlineData("ffff")]
    [InlineData("f1e3 c2e5 f23a 6ba0 ab90 f4ff ff")] // valid string followed by a whole octet of ones
    [InlineData("ff ff ff")]    // 24 ones: a prefix of a long code, not padding
    public void OverlongPaddingIsRejected(string hex) => AssertInvalid(hex);

    [Theory]
    [InlineData("ff ff ff fc")]       // EOS (30 ones) + 00
    [InlineData("ff ff ff ff")]       // EOS + 2 ones
    [InlineData("1f ff ff ff ff")]    // 'a' + EOS + 5 ones of padding
    [InlineData("ff ff ff fc 18")]    // EOS followed by more symbols
    public void EosInTheStringIsRejected(string hex) => AssertInvalid(hex);

    [Fact]
    public void EosMidStringIsRejectedEvenWithValidTail()
    {
        // 'a' (5) + EOS (30) + 'a' (5) = 40 bits exactly.
        ulong bits = (0x3UL << 35) | (0x3fffffffUL << 5) | 0x3UL;
        byte[] src = new byte[5];
        for (int i = 0; i < 5; i++)
        {
            src[i] = (byte)(bits >> (32 - 8 * i));
        }

        var ex = Assert.Throws<HpackException>(() => Huffman.Decode(src, new byte[16]));
        Assert.Equal(HpackError.Compression, ex.Error);
    }

    [Fact]
    public void DecodeIntoTooSmallDestinationThrowsArgumentException()
    {
        byte[] encoded = EncodeBytes(Latin1("www.example.com"));
        Assert.Throws<ArgumentException>(() => Huffman.Decode(encoded, new byte[14]));
        Assert.Equal(15, Huffman.Decode(encoded, new byte[15]));
    }

    [Fact]
    public void EncodeIntoTooSmallDestinationThrowsArgumentException()
    {
        byte[] src = Latin1("www.example.com");
        Assert.Throws<ArgumentException>(() => Huffman.Encode(src, new byte[11]));
        Assert.Equal(12, Huffman.Encode(src, new byte[12]));
    }

    [Fact]
    public void TruncatedLongCodesAreRejected()
    {
        // Every strict byte prefix of an encoded string made of long codes is either valid or an HpackException.
        byte[] src = [1, 2, 10, 13, 22, 200, 255, 0];
        byte[] encoded = EncodeBytes(src);
        for (int cut = 0; cut < encoded.Length; cut++)
        {
            try
            {
                byte[] decoded = DecodeBytes(encoded[..cut]);
                Assert.Equal(src[..decoded.Length], decoded);
            }
            catch (HpackException ex)
            {
                Assert.Equal(HpackError.Compression, ex.Error);
            }
        }
    }
}

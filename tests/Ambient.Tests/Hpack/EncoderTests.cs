using System.Buffers;
using Ambient.Http2;
using Ambient.Http2.Hpack;
using static Ambient.Tests.Hpack.HpackTestHelpers;

namespace Ambient.Tests.Hpack;

public class EncoderTests
{
    [Fact]
    public void StaticExactMatchesAreOneOctet()
    {
        var encoder = new HpackEncoder();
        Assert.Equal("82", ToHex(Encode(encoder, H(":method", "GET"))));
        Assert.Equal("88", ToHex(Encode(encoder, H(":status", "200"))));
        Assert.Equal("90", ToHex(Encode(encoder, H("accept-encoding", "gzip, deflate"))));
        Assert.Equal(0, encoder.DynamicTable.Count);
    }

    [Fact]
    public void RepeatedFieldsBecomeDynamicReferences()
    {
        var encoder = new HpackEncoder();
        var decoder = new HpackDecoder();
        HeaderField[] headers = [H(":method", "CONNECT"), H(":authority", "10.0.0.7:8080"), H("x-request-id", "abc")];
        byte[] first = Encode(encoder, headers);
        byte[] second = Encode(encoder, headers);
        Assert.Equal(headers, Decode(decoder, first));
        Assert.Equal(headers, Decode(decoder, second));
        Assert.Equal("c0bfbe", ToHex(second)); // oldest (:method CONNECT) is 64 ... newest 62
        Assert.Equal(Entries(encoder.DynamicTable), Entries(decoder.DynamicTable));
    }

    [Theory]
    [InlineData("authorization", "1f08")]
    [InlineData("cookie", "1f11")]
    [InlineData("proxy-authorization", "1f22")]
    public void CredentialsAreNeverIndexed(string name, string expectedPrefix)
    {
        var encoder = new HpackEncoder();
        var decoder = new HpackDecoder();
        HeaderField field = H(name, "Bearer secret-token");
        byte[] first = Encode(encoder, field);
        byte[] second = Encode(encoder, field);
        Assert.StartsWith(expectedPrefix, ToHex(first));
        Assert.Equal(first, second);
        Assert.Equal(0, encoder.DynamicTable.Count);
        Assert.Equal([field], Decode(decoder, first));
        Assert.Equal(0, decoder.DynamicTable.Count);
    }

    [Fact]
    public void CredentialNamesAreMatchedCaseInsensitively()
    {
        var encoder = new HpackEncoder();
        byte[] block = Encode(encoder, H("Authorization", "x"));
        Assert.Equal(0x10, block[0]); // never indexed, literal name (no static match for the capitalised name)
        Assert.Equal(0, encoder.DynamicTable.Count);
    }

    [Fact]
    public void LargeFieldsAreNotIndexed()
    {
        var encoder = new HpackEncoder();
        var decoder = new HpackDecoder();
        HeaderField big = H("x-big", new string('q', 3000));
        byte[] block = Encode(encoder, big);
        Assert.Equal(0x00, block[0] & 0xF0); // literal without indexing
        Assert.Equal(0, encoder.DynamicTable.Count);
        Assert.Equal([big], Decode(decoder, block));

        // Half the table is still indexed.
        HeaderField half = H("x-half", new string('q', 2048 - 32 - 6));
        Encode(encoder, half);
        Assert.Equal(1, encoder.DynamicTable.Count);
    }

    [Fact]
    public void HuffmanIsUsedOnlyWhenShorter()
    {
        var encoder = new HpackEncoder(0);
        byte[] block = Encode(encoder, H("x-host", "www.example.com"));
        // 20 (size update 0), 00 literal new name, name "x-host" Huffman (5 < 6), value Huffman (12 < 15).
        Assert.Equal("2000" + "85" + ToHex(HuffmanOf("x-host")) + "8c" + "f1e3c2e5f23a6ba0ab90f4ff", ToHex(block));

        // Octets that Huffman would expand are sent raw.
        byte[] raw = Encode(encoder, H("x", "\u00ff\u00fe"));
        Assert.Equal("00" + "0178" + "02fffe", ToHex(raw));
    }

    private static byte[] HuffmanOf(string s)
    {
        byte[] src = System.Text.Encoding.Latin1.GetBytes(s);
        byte[] dst = new byte[Huffman.GetEncodedLength(src)];
        Huffman.Encode(src, dst);
        return dst;
    }

    [Fact]
    public void SmallerOwnTableIsAnnouncedInTheFirstBlock()
    {
        Assert.Equal("20", ToHex(Encode(new HpackEncoder(0))));
        Assert.Equal("3fe101", ToHex(Encode(new HpackEncoder(256))));
        Assert.Equal("", ToHex(Encode(new HpackEncoder(4096))));
        Assert.Equal("", ToHex(Encode(new HpackEncoder(65536))));

        // Only once.
        var encoder = new HpackEncoder(0);
        Encode(encoder);
        Assert.Equal("82", ToHex(Encode(encoder, H(":method", "GET"))));
    }

    [Fact]
    public void PeerTableSizeChangesAreAnnounced()
    {
        var encoder = new HpackEncoder();
        var decoder = new HpackDecoder();
        Decode(decoder, Encode(encoder, H("x-a", "1"), H("x-b", "2")));
        Assert.Equal(2, encoder.DynamicTable.Count);

        // Shrinking evicts immediately and announces the new size.
        encoder.SetPeerMaxTableSize(40);
        Assert.Equal(1, encoder.DynamicTable.Count);
        decoder.MaxDynamicTableSize = 40;
        byte[] block = Encode(encoder, H("x-b", "2"));
        Assert.Equal("3f09" + "be", ToHex(block));
        Assert.Equal([H("x-b", "2")], Decode(decoder, block));

        // Unchanged size: no update.
        encoder.SetPeerMaxTableSize(40);
        Assert.Equal("be", ToHex(Encode(encoder, H("x-b", "2"))));

        // Down to 0 and back up before the next block: the minimum, then the final size.
        encoder.SetPeerMaxTableSize(0);
        encoder.SetPeerMaxTableSize(4096);
        Assert.Equal(0, encoder.DynamicTable.Count);
        decoder.MaxDynamicTableSize = 4096;
        block = Encode(encoder, H(":method", "GET"));
        Assert.Equal("20" + "3fe11f" + "82", ToHex(block));
        Decode(decoder, block);
        Assert.Equal(0, decoder.DynamicTable.Count);

        // Above the encoder's own limit: clamped, so nothing changes.
        encoder.SetPeerMaxTableSize(1 << 20);
        Assert.Equal("82", ToHex(Encode(encoder, H(":method", "GET"))));
    }

    [Fact]
    public void LargerOwnTableIsUsedOnceThePeerAllowsIt()
    {
        var encoder = new HpackEncoder(8192);
        Assert.Equal(4096, encoder.DynamicTable.MaxSize);
        encoder.SetPeerMaxTableSize(16384);
        Assert.Equal(8192, encoder.DynamicTable.MaxSize);
        Assert.Equal("3fe13f", ToHex(Encode(encoder)));

        // Up and back down before a block: the table never went below what the peer knows, so nothing to say.
        encoder = new HpackEncoder(65536);
        encoder.SetPeerMaxTableSize(8192);
        encoder.SetPeerMaxTableSize(4096);
        Assert.Equal("", ToHex(Encode(encoder)));

        // Down then partly up: the dip (100), then the final size (2048).
        encoder.SetPeerMaxTableSize(100);
        encoder.SetPeerMaxTableSize(2048);
        Assert.Equal("3f45" + "3fe10f", ToHex(Encode(encoder)));

        // Down twice: only the final size.
        encoder.SetPeerMaxTableSize(1000);
        encoder.SetPeerMaxTableSize(500);
        Assert.Equal(ToHex(PrefixInteger(500, 5, 0x20)), ToHex(Encode(encoder)));
    }

    [Fact]
    public void InvalidInputThrowsAndLeavesStateUntouched()
    {
        var encoder = new HpackEncoder(256);
        var writer = new ArrayBufferWriter<byte>();
        Assert.Throws<ArgumentException>(() => encoder.Encode([H("x-ok", "1"), H("x-bad", "\u0100")], writer));
        Assert.Throws<ArgumentException>(() => encoder.Encode([H("x-\u20ac", "1")], writer));
        Assert.Throws<ArgumentException>(() => encoder.Encode([default], writer));
        Assert.Throws<ArgumentNullException>(() => encoder.Encode([], null!));
        Assert.Equal(0, writer.WrittenCount);
        Assert.Equal(0, encoder.DynamicTable.Count);

        // The pending size update was not consumed.
        Assert.StartsWith("3fe101", ToHex(Encode(encoder, H("x-ok", "1"))));
        Assert.Throws<ArgumentOutOfRangeException>(() => encoder.SetPeerMaxTableSize(-1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new HpackEncoder(-1));
    }

    [Fact]
    public void WritesWithinTheRequestedSpanSizes()
    {
        // A writer that hands out exactly the size asked for catches any under-estimated GetSpan hint.
        var random = new Random(99);
        var encoder = new HpackEncoder();
        var decoder = new HpackDecoder(maxHeaderListSize: 1 << 24);
        for (int i = 0; i < 200; i++)
        {
            HeaderField[] headers = RandomHeaders(random);
            var writer = new ExactSpanWriter();
            encoder.Encode(headers, writer);
            Assert.Equal(headers, Decode(decoder, writer.ToArray()));
        }
    }

    [Fact]
    public void RandomHeaderListsRoundTripThroughTheDecoder()
    {
        var random = new Random(7541_2024);
        int[] ownSizes = [0, 64, 256, 1024, 4096, 8192, 65536];
        int[] peerSizes = [0, 32, 100, 256, 1000, 4096, 16384, 65536];
        int blocks = 0;

        for (int run = 0; run < 60; run++)
        {
            var encoder = new HpackEncoder(ownSizes[random.Next(ownSizes.Length)]);
            var decoder = new HpackDecoder(4096, maxHeaderListSize: 1 << 24);
            for (int b = 0; b < 60; b++, blocks++)
            {
                if (random.Next(8) == 0)
                {
                    // SETTINGS_HEADER_TABLE_SIZE change(s) acknowledged between two blocks.
                    int changes = random.Next(1, 3);
                    for (int c = 0; c < changes; c++)
                    {
                        int size = peerSizes[random.Next(peerSizes.Length)];
                        encoder.SetPeerMaxTableSize(size);
                        decoder.MaxDynamicTableSize = size;
                    }
                }

                encoder.UseHuffman = random.Next(10) != 0;
                HeaderField[] headers = RandomHeaders(random);
                var writer = new ArrayBufferWriter<byte>();
                encoder.Encode(headers, writer);

                var output = new List<HeaderField>();
                if (random.Next(4) == 0)
                {
                    decoder.Decode(Segmented(writer.WrittenSpan.ToArray(), random.Next(1, 16)), output);
                }
                else
                {
                    decoder.Decode(writer.WrittenSpan, output);
                }

                Assert.Equal(headers, output);
                Assert.Equal(encoder.DynamicTable.MaxSize, decoder.DynamicTable.MaxSize);
                Assert.Equal(encoder.DynamicTable.Size, decoder.DynamicTable.Size);
                Assert.Equal(Entries(encoder.DynamicTable), Entries(decoder.DynamicTable));
            }
        }

        Assert.Equal(3600, blocks);
    }

    [Fact]
    public void RepeatedHbonePatternsCompressWell()
    {
        var encoder = new HpackEncoder();
        var decoder = new HpackDecoder();
        HeaderField[] connect =
        [
            H(":method", "CONNECT"), H(":scheme", "https"), H(":authority", "10.244.1.17:8080"),
            H(":path", "/"), H("baggage", "k8s.namespace.name=default,k8s.workload.name=productpage-v1"),
            H("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"),
        ];
        int firstLength = Encode(encoder, connect).Length;
        connect[5] = H("traceparent", "00-1af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
        byte[] second = Encode(encoder, connect);
        Assert.True(second.Length < firstLength / 2, $"{second.Length} vs {firstLength}");
        Assert.True(second.Length < 50, $"second block is {second.Length} octets");
    }

    internal static HeaderField[] RandomHeaders(Random random)
    {
        string[] names = [":method", ":path", ":authority", ":status", "content-type", "user-agent", "x-trace", "x-id",
            "baggage", "authorization", "cookie", "proxy-authorization", "set-cookie", "x-forwarded-for", "via"];
        string[] values = ["", "GET", "CONNECT", "/", "200", "application/grpc", "10.0.0.1:15008", "a", "abc=1; b=2"];

        int count = random.Next(0, 20);
        var headers = new HeaderField[count];
        for (int i = 0; i < count; i++)
        {
            headers[i] = random.Next(10) switch
            {
                0 => StaticTable.Get(random.Next(1, StaticTable.Count + 1)),
                1 or 2 or 3 => H(names[random.Next(names.Length)], values[random.Next(values.Length)]),
                4 or 5 => H(names[random.Next(names.Length)], RandomString(random, random.Next(0, 40), ascii: true)),
                6 => H("x-" + RandomString(random, random.Next(1, 10), ascii: true).ToLowerInvariant(),
                    RandomString(random, random.Next(0, 60), ascii: false)),
                7 => H(names[random.Next(names.Length)], RandomString(random, random.Next(100, 3000), ascii: true)),
                8 => H(RandomString(random, random.Next(0, 8), ascii: false), RandomString(random, random.Next(0, 8), ascii: false)),
                _ => H("x-n" + random.Next(40), "v" + random.Next(10)),
            };
        }

        return headers;
    }

    private static string RandomString(Random random, int length, bool ascii) =>
        string.Create(length, (random, ascii), static (span, state) =>
        {
            for (int i = 0; i < span.Length; i++)
            {
                span[i] = state.ascii ? (char)state.random.Next(0x20, 0x7F) : (char)state.random.Next(0, 256);
            }
        });

    private sealed class ExactSpanWriter : IBufferWriter<byte>
    {
        private readonly List<byte> _written = [];
        private byte[] _current = [];

        public void Advance(int count)
        {
            Assert.InRange(count, 0, _current.Length);
            _written.AddRange(_current.AsSpan(0, count).ToArray());
            _current = [];
        }

        public Memory<byte> GetMemory(int sizeHint = 0) => _current = new byte[Math.Max(sizeHint, 1)];

        public Span<byte> GetSpan(int sizeHint = 0) => _current = new byte[Math.Max(sizeHint, 1)];

        public byte[] ToArray() => _written.ToArray();
    }
}

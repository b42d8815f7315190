using Ambient.Http2;
using Ambient.Http2.Hpack;
using static Ambient.Tests.Hpack.HpackTestHelpers;

namespace Ambient.Tests.Hpack;

public class DecoderHostileInputTests
{
    private static HpackError DecodeError(HpackDecoder decoder, byte[] block, List<HeaderField>? output = null)
    {
        var ex = Assert.Throws<HpackException>(() => decoder.Decode(block, output ?? []));
        return ex.Error;
    }

    private static void AssertCompression(byte[] block, HpackDecoder? decoder = null) =>
        Assert.Equal(HpackError.Compression, DecodeError(decoder ?? new HpackDecoder(), block));

    private static HpackDecoder DecoderAfterC31()
    {
        var decoder = new HpackDecoder();
        Decode(decoder, Hex(RfcExampleTests.C3[0]));
        return decoder;
    }

    [Fact]
    public void EmptyBlockDecodesToNothing()
    {
        var decoder = new HpackDecoder();
        Assert.Empty(Decode(decoder, ReadOnlySpan<byte>.Empty));
        var list = new List<HeaderField>();
        decoder.Decode(System.Buffers.ReadOnlySequence<byte>.Empty, list);
        Assert.Empty(list);
    }

    [Fact]
    public void DecodeAppendsToExistingOutput()
    {
        var list = new List<HeaderField> { H("existing", "1") };
        new HpackDecoder().Decode(Hex("82"), list);
        Assert.Equal([H("existing", "1"), H(":method", "GET")], list);
    }

    [Fact]
    public void IndexZeroIsRejected()
    {
        AssertCompression(Hex("80"));
        AssertCompression(Hex("82 80"));
    }

    [Fact]
    public void IndexBeyondTheTablesIsRejected()
    {
        AssertCompression(Hex("be"));                          // 62 with an empty dynamic table
        AssertCompression(Hex("ff 00"));                       // 127
        AssertCompression(PrefixInteger(int.MaxValue, 7, 0x80));
        AssertCompression(Hex("bf"), DecoderAfterC31());       // 63 with one dynamic entry

        Assert.Equal([H(":authority", "www.example.com")], Decode(DecoderAfterC31(), Hex("be")));
    }

    [Fact]
    public void LiteralNameIndexBeyondTheTablesIsRejected()
    {
        AssertCompression(Hex("7e 00"));                               // incremental, name index 62
        AssertCompression(Concat(PrefixInteger(62, 4, 0x00), Hex("00"))); // without indexing
        AssertCompression(Concat(PrefixInteger(62, 4, 0x10), Hex("00"))); // never indexed
        AssertCompression(Concat(PrefixInteger(int.MaxValue, 6, 0x40), Hex("00")));

        // Index 16 via the 4-bit prefix continuation is fine.
        Assert.Equal([H("accept-encoding", "x")], Decode(new HpackDecoder(), Concat(PrefixInteger(16, 4, 0x00), RawString("x"))));
    }

    [Fact]
    public void IntegerOverflowIsRejected()
    {
        AssertCompression(PrefixInteger(1UL << 31, 7, 0x80));
        AssertCompression(PrefixInteger(1UL << 40, 7, 0x80));
        AssertCompression(Hex("ff 80 80 80 80 80 80 00"));          // too many continuation octets
        AssertCompression(Hex("ff ff ff ff ff ff ff ff ff ff 01"));
        AssertCompression(Concat(Hex("40"), PrefixInteger(1UL << 33, 7, 0x00)));
    }

    [Theory]
    [InlineData(0x00)]
    [InlineData(0x80)]
    public void LiteralLengthOfTwoToThe31IsRejectedWithoutAllocating(byte huffmanFlag)
    {
        var decoder = new HpackDecoder(maxHeaderListSize: int.MaxValue);
        long before = GC.GetAllocatedBytesForCurrentThread();

        // Name length 2^31: does not fit in an int.
        byte[] nameTooLong = Concat(Hex("00"), PrefixInteger(1UL << 31, 7, huffmanFlag), Hex("61 62 63"));
        AssertCompression(nameTooLong, decoder);

        // 2^31 - 1 fits in an int, but the block does not hold that many octets.
        byte[] nameMax = Concat(Hex("00"), PrefixInteger(int.MaxValue, 7, huffmanFlag), Hex("61 62 63"));
        AssertCompression(nameMax, new HpackDecoder(maxHeaderListSize: int.MaxValue));

        // Same for a value after a valid name, and with incremental indexing.
        byte[] valueMax = Concat(Hex("40"), RawString("x"), PrefixInteger(int.MaxValue, 7, huffmanFlag), Hex("61"));
        AssertCompression(valueMax, new HpackDecoder(maxHeaderListSize: int.MaxValue));

        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.True(allocated < 1_000_000, $"allocated {allocated} bytes");
    }

    [Fact]
    public void LiteralLongerThanTheListBudgetIsTooLarge()
    {
        // 1 + 67 + 32 = 100 fits exactly; one more octet does not.
        byte[] fits = Concat(Hex("00"), RawString("x"), RawString(new string('v', 67)));
        byte[] over = Concat(Hex("00"), RawString("x"), RawString(new string('v', 68)));
        Assert.Single(Decode(new HpackDecoder(maxHeaderListSize: 100), fits));
        Assert.Equal(HpackError.HeaderListTooLarge, DecodeError(new HpackDecoder(maxHeaderListSize: 100), over));

        // A name alone beyond the budget.
        byte[] longName = Concat(Hex("00"), RawString(new string('n', 69)), RawString(""));
        Assert.Equal(HpackError.HeaderListTooLarge, DecodeError(new HpackDecoder(maxHeaderListSize: 100), longName));
    }

    [Fact]
    public void HuffmanLiteralDecodingBeyondTheListBudgetIsTooLarge()
    {
        var encoder = new HpackEncoder(0);
        byte[] fits = Encode(encoder, H("x-a", new string('a', 65)));   // 3 + 65 + 32 = 100
        byte[] over = Encode(encoder, H("x-a", new string('a', 66)));
        Assert.Equal(0x20, fits[0]); // encoder announced a 0-octet table
        Assert.Equal([H("x-a", new string('a', 65))], Decode(new HpackDecoder(maxHeaderListSize: 100), fits));
        Assert.Equal(HpackError.HeaderListTooLarge, DecodeError(new HpackDecoder(maxHeaderListSize: 100), over));

        // 10,000 'a' compress to 6,250 octets; a 1,000-octet budget must not decode (or allocate) them all.
        byte[] big = Encode(new HpackEncoder(), H("x", new string('a', 10_000)));
        Assert.Equal(HpackError.HeaderListTooLarge, DecodeError(new HpackDecoder(maxHeaderListSize: 1000), big));
    }

    [Fact]
    public void HeaderListSizeLimitIsExact()
    {
        // C.3.1 decodes to 42 + 43 + 38 + 57 = 180 octets.
        Assert.Equal(4, Decode(new HpackDecoder(maxHeaderListSize: 180), Hex(RfcExampleTests.C3[0])).Count);
        Assert.Equal(HpackError.HeaderListTooLarge, DecodeError(new HpackDecoder(maxHeaderListSize: 179), Hex(RfcExampleTests.C3[0])));
        Assert.Equal(4, Decode(new HpackDecoder(maxHeaderListSize: 180), Hex(RfcExampleTests.C4[0])).Count);
        Assert.Equal(HpackError.HeaderListTooLarge, DecodeError(new HpackDecoder(maxHeaderListSize: 179), Hex(RfcExampleTests.C4[0])));

        var decoder = new HpackDecoder { MaxHeaderListSize = 41 };
        Assert.Equal(HpackError.HeaderListTooLarge, DecodeError(decoder, Hex("82")));
        decoder = new HpackDecoder { MaxHeaderListSize = 42 };
        Assert.Single(Decode(decoder, Hex("82")));

        // The limit is per block, not cumulative.
        Assert.Single(Decode(decoder, Hex("82")));
    }

    [Fact]
    public void HeaderListBombFromOneDynamicEntryIsRejected()
    {
        // One 4,033-octet entry, then 1,000 one-octet references to it: a 1 KB block that would expand to 4 MB.
        byte[] block = Concat(Hex("40"), RawString("x"), RawString(new string('a', 4000)),
            Enumerable.Repeat((byte)0xBE, 1000).ToArray());
        var output = new List<HeaderField>();
        var decoder = new HpackDecoder();
        Assert.Equal(HpackError.HeaderListTooLarge, DecodeError(decoder, block, output));
        Assert.True(output.Count <= 65536 / 4033, $"{output.Count} fields were output before the limit tripped");
    }

    [Fact]
    public void HeaderListBombFromStaticEntriesIsRejected()
    {
        // ":authority" with an empty value (42 octets) referenced 10,000 times from a 10 KB block.
        byte[] block = Enumerable.Repeat((byte)0x81, 10_000).ToArray();
        var output = new List<HeaderField>();
        Assert.Equal(HpackError.HeaderListTooLarge, DecodeError(new HpackDecoder(), block, output));
        Assert.Equal(65536 / 42, output.Count);
    }

    [Fact]
    public void SizeUpdateAboveTheLimitIsRejected()
    {
        AssertCompression(Concat(PrefixInteger(4097, 5, 0x20), Hex("82")));
        AssertCompression(PrefixInteger(257, 5, 0x20), new HpackDecoder(256));
        AssertCompression(PrefixInteger(int.MaxValue, 5, 0x20));
        AssertCompression(PrefixInteger(1UL << 32, 5, 0x20));

        var decoder = new HpackDecoder();
        Decode(decoder, Concat(PrefixInteger(4096, 5, 0x20), Hex("82")));
        Assert.Equal(4096, decoder.DynamicTable.MaxSize);
    }

    [Fact]
    public void SizeUpdateAfterAFieldIsRejected()
    {
        AssertCompression(Hex("82 20"));
        AssertCompression(Hex("20 82 20"));
        AssertCompression(Concat(Hex("40"), RawString("a"), RawString("b"), Hex("3f e1 1f")));
    }

    [Fact]
    public void SeveralSizeUpdatesAtTheStartAreAllowed()
    {
        var decoder = DecoderAfterC31();
        Assert.Equal([H(":method", "GET")], Decode(decoder, Hex("20 3f e1 1f 82")));
        Assert.Equal(0, decoder.DynamicTable.Count); // the update to 0 evicted everything
        Assert.Equal(4096, decoder.DynamicTable.MaxSize);
        AssertCompression(Hex("be"), decoder);
    }

    [Fact]
    public void TableStartsAtTheProtocolDefaultAndGrowsOnlyByUpdate()
    {
        var decoder = new HpackDecoder(maxDynamicTableSize: 65536);
        Assert.Equal(4096, decoder.DynamicTable.MaxSize);
        Decode(decoder, PrefixInteger(65536, 5, 0x20));
        Assert.Equal(65536, decoder.DynamicTable.MaxSize);
        AssertCompression(PrefixInteger(65537, 5, 0x20), decoder);
    }

    [Fact]
    public void LoweringTheSettingRequiresASizeUpdateAtTheNextBlock()
    {
        var decoder = DecoderAfterC31();
        decoder.MaxDynamicTableSize = 100;
        AssertCompression(Hex("82"), decoder);

        decoder = DecoderAfterC31();
        decoder.MaxDynamicTableSize = 100;
        Assert.Empty(Decode(decoder, ReadOnlySpan<byte>.Empty)); // an empty block carries no field: still pending
        AssertCompression(PrefixInteger(101, 5, 0x20), decoder);

        decoder = DecoderAfterC31();
        decoder.MaxDynamicTableSize = 100;
        Assert.Equal([H(":authority", "www.example.com")], Decode(decoder, Concat(PrefixInteger(100, 5, 0x20), Hex("be"))));
        Assert.Equal(100, decoder.DynamicTable.MaxSize);
        Assert.Single(Decode(decoder, Hex("82"))); // requirement satisfied

        // Raising the setting requires nothing.
        decoder = DecoderAfterC31();
        decoder.MaxDynamicTableSize = 8192;
        Assert.Single(Decode(decoder, Hex("be")));
    }

    [Fact]
    public void InvalidHuffmanInALiteralIsACompressionError()
    {
        AssertCompression(Concat(Hex("00"), RawString("x"), Hex("81 18")));          // bad padding
        AssertCompression(Concat(Hex("00"), RawString("x"), Hex("82 1f ff")));       // overlong padding
        AssertCompression(Concat(Hex("00"), RawString("x"), Hex("84 ff ff ff fc"))); // EOS
        AssertCompression(Concat(Hex("00"), Hex("81 ff"), RawString("v")));          // bad Huffman name
    }

    [Fact]
    public void SetterArgumentsAreValidated()
    {
        var decoder = new HpackDecoder();
        Assert.Throws<ArgumentOutOfRangeException>(() => decoder.MaxDynamicTableSize = -1);
        Assert.Throws<ArgumentOutOfRangeException>(() => decoder.MaxHeaderListSize = -1);
        Assert.Throws<ArgumentOutOfRangeException>(() => new HpackDecoder(-1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new HpackDecoder(4096, -1));
    }

    // Exact representation boundaries of three first blocks: cuts there decode to a prefix of the fields;
    // every other cut must be a Compression error.
    [Theory]
    [InlineData("C.3", 4096, new[] { 0, 1, 2, 3, 20 })]
    [InlineData("C.4", 4096, new[] { 0, 1, 2, 3, 17 })]
    [InlineData("C.5", 256, new[] { 0, 5, 14, 45, 70 })]
    [InlineData("C.6", 256, new[] { 0, 4, 11, 35, 54 })]
    public void TruncationOfAFirstBlockAtEveryOctet(string section, int tableSize, int[] boundaries)
    {
        (string[] blocks, HeaderField[][] expected) = Section(section);
        byte[] block = Hex(blocks[0]);
        Assert.Equal(boundaries[^1], block.Length);
        for (int cut = 0; cut < block.Length; cut++)
        {
            var decoder = new HpackDecoder(tableSize);
            int fieldCount = Array.IndexOf(boundaries, cut);
            if (fieldCount >= 0)
            {
                Assert.Equal(expected[0][..fieldCount], Decode(decoder, block.AsSpan(0, cut)));
            }
            else
            {
                var ex = Assert.Throws<HpackException>(() => decoder.Decode(block.AsSpan(0, cut), []));
                Assert.Equal(HpackError.Compression, ex.Error);
            }
        }
    }

    // Every block of every example, cut at every octet after decoding the preceding blocks: either a prefix
    // of the fields, or an HpackException — never another exception type.
    [Theory]
    [InlineData("C.3", 4096)]
    [InlineData("C.4", 4096)]
    [InlineData("C.5", 256)]
    [InlineData("C.6", 256)]
    public void TruncationOfEveryBlockAtEveryOctet(string section, int tableSize)
    {
        (string[] blocks, HeaderField[][] expected) = Section(section);
        for (int b = 0; b < blocks.Length; b++)
        {
            byte[] block = Hex(blocks[b]);
            for (int cut = 0; cut < block.Length; cut++)
            {
                var decoder = new HpackDecoder(tableSize);
                for (int prev = 0; prev < b; prev++)
                {
                    Decode(decoder, Hex(blocks[prev]));
                }

                var output = new List<HeaderField>();
                try
                {
                    decoder.Decode(block.AsSpan(0, cut), output);
                    Assert.Equal(expected[b][..output.Count], output);
                }
                catch (HpackException ex)
                {
                    Assert.Equal(HpackError.Compression, ex.Error);
                }

                // Also through a multi-segment sequence.
                decoder = new HpackDecoder(tableSize);
                for (int prev = 0; prev < b; prev++)
                {
                    Decode(decoder, Hex(blocks[prev]));
                }

                try
                {
                    decoder.Decode(Segmented(block[..cut], 3), []);
                }
                catch (HpackException)
                {
                }
            }
        }
    }

    [Fact]
    public void EmptyNameAndValueAreAllowed()
    {
        byte[] block = Concat(Hex("40"), RawString(""), RawString(""), Hex("be"));
        var decoder = new HpackDecoder();
        Assert.Equal([H("", ""), H("", "")], Decode(decoder, block));
        Assert.Equal(32, decoder.DynamicTable.Size);
    }

    [Fact]
    public void Latin1OctetsAreDecodedOneCharEach()
    {
        byte[] value = Enumerable.Range(0, 256).Select(i => (byte)i).ToArray();
        byte[] block = Concat(Hex("00"), RawString("x"), PrefixInteger(256, 7, 0), value);
        var field = Assert.Single(Decode(new HpackDecoder(), block));
        Assert.Equal(256, field.Value.Length);
        for (int i = 0; i < 256; i++)
        {
            Assert.Equal((char)i, field.Value[i]);
        }
    }

    private static (string[] Blocks, HeaderField[][] Expected) Section(string section) => section switch
    {
        "C.3" => (RfcExampleTests.C3, RfcExampleTests.Requests),
        "C.4" => (RfcExampleTests.C4, RfcExampleTests.Requests),
        "C.5" => (RfcExampleTests.C5, RfcExampleTests.Responses),
        _ => (RfcExampleTests.C6, RfcExampleTests.Responses),
    };
}

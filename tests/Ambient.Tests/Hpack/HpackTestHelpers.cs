using System.Buffers;
using Ambient.Http2;
using Ambient.Http2.Hpack;

namespace Ambient.Tests.Hpack;

internal static class HpackTestHelpers
{
    public static byte[] Hex(string hex) =>
        Convert.FromHexString(hex.Replace(" ", "").Replace("\n", "").Replace("\r", ""));

    public static string ToHex(ReadOnlySpan<byte> bytes) => Convert.ToHexString(bytes).ToLowerInvariant();

    public static HeaderField H(string name, string value) => new(name, value);

    public static List<HeaderField> Decode(HpackDecoder decoder, ReadOnlySpan<byte> block)
    {
        var list = new List<HeaderField>();
        decoder.Decode(block, list);
        return list;
    }

    public static byte[] Encode(HpackEncoder encoder, params HeaderField[] headers)
    {
        var writer = new ArrayBufferWriter<byte>();
        encoder.Encode(headers, writer);
        return writer.WrittenSpan.ToArray();
    }

    /// <summary>Dynamic table contents, newest (index 62) first.</summary>
    public static List<HeaderField> Entries(DynamicTable table)
    {
        var list = new List<HeaderField>(table.Count);
        for (int i = 0; i < table.Count; i++)
        {
            list.Add(table[i]);
        }

        return list;
    }

    /// <summary>Prefix integer encoder for any 64-bit value (to build hostile inputs beyond int range).</summary>
    public static byte[] PrefixInteger(ulong value, int prefixBits, byte flags)
    {
        var bytes = new List<byte>();
        ulong mask = (1UL << prefixBits) - 1;
        if (value < mask)
        {
            bytes.Add((byte)(flags | (byte)value));
            return bytes.ToArray();
        }

        bytes.Add((byte)(flags | (byte)mask));
        value -= mask;
        while (value >= 0x80)
        {
            bytes.Add((byte)(value | 0x80));
            value >>= 7;
        }

        bytes.Add((byte)value);
        return bytes.ToArray();
    }

    public static byte[] Concat(params byte[][] parts) => parts.SelectMany(p => p).ToArray();

    /// <summary>Raw (non-Huffman) string literal.</summary>
    public static byte[] RawString(string s) =>
        Concat(PrefixInteger((ulong)s.Length, 7, 0x00), System.Text.Encoding.Latin1.GetBytes(s));

    /// <summary>Splits <paramref name="data"/> into a multi-segment sequence of segments of the given size.</summary>
    public static ReadOnlySequence<byte> Segmented(byte[] data, int segmentSize)
    {
        if (data.Length == 0)
        {
            return ReadOnlySequence<byte>.Empty;
        }

        Segment? first = null;
        Segment? last = null;
        for (int i = 0; i < data.Length; i += segmentSize)
        {
            var memory = new ReadOnlyMemory<byte>(data, i, Math.Min(segmentSize, data.Length - i));
            if (first is null)
            {
                first = last = new Segment(memory, 0);
            }
            else
            {
                last = last!.Append(memory);
            }
        }

        return new ReadOnlySequence<byte>(first!, 0, last!, last!.Memory.Length);
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory, long runningIndex)
        {
            Memory = memory;
            RunningIndex = runningIndex;
        }

        public Segment Append(ReadOnlyMemory<byte> memory)
        {
            var next = new Segment(memory, RunningIndex + Memory.Length);
            Next = next;
            return next;
        }
    }
}

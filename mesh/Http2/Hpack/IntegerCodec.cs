namespace Ambient.Http2.Hpack;

/// <summary>
/// RFC 7541 §5.1 prefix integers: the value fills the low N bits of the first octet, and if it does not fit,
/// the remainder follows in little-endian groups of 7 bits, the high bit of each octet flagging a continuation.
/// Values are limited to the range of <see cref="int"/>.
/// </summary>
internal static class IntegerCodec
{
    /// <summary>Most octets an encoded int can take (1 prefix octet + 5 continuation octets).</summary>
    public const int MaxEncodedLength = 6;

    /// <summary>Longest continuation the decoder accepts: 5 octets carry 35 bits, enough for any int.</summary>
    private const int MaxContinuationShift = 28;

    /// <summary>Octets needed to encode <paramref name="value"/> with an N-bit prefix.</summary>
    public static int GetEncodedLength(int value, int prefixBits)
    {
        int mask = (1 << prefixBits) - 1;
        if (value < mask)
        {
            return 1;
        }

        int length = 2;
        for (uint rest = (uint)(value - mask); rest >= 0x80; rest >>= 7)
        {
            length++;
        }

        return length;
    }

    /// <summary>
    /// Writes <paramref name="value"/> with an N-bit prefix; <paramref name="flags"/> supplies the bits of the
    /// first octet above the prefix. Returns the number of octets written.
    /// </summary>
    public static int Encode(int value, int prefixBits, byte flags, Span<byte> destination)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(value);
        if ((uint)(prefixBits - 1) > 7)
        {
            throw new ArgumentOutOfRangeException(nameof(prefixBits));
        }

        int mask = (1 << prefixBits) - 1;
        if (value < mask)
        {
            destination[0] = (byte)(flags | value);
            return 1;
        }

        destination[0] = (byte)(flags | mask);
        uint rest = (uint)(value - mask);
        int i = 1;
        while (rest >= 0x80)
        {
            destination[i++] = (byte)(rest | 0x80);
            rest >>= 7;
        }

        destination[i++] = (byte)rest;
        return i;
    }

    /// <summary>
    /// Reads a prefix integer starting at <paramref name="position"/> (the first octet's high bits are ignored)
    /// and advances <paramref name="position"/> past it. Throws <see cref="HpackException"/> (Compression) when the
    /// input ends inside the integer or the value does not fit in an <see cref="int"/>.
    /// </summary>
    public static int Decode(ReadOnlySpan<byte> source, ref int position, int prefixBits)
    {
        int pos = position;
        if ((uint)pos >= (uint)source.Length)
        {
            HpackException.ThrowCompression("Truncated integer.");
        }

        int mask = (1 << prefixBits) - 1;
        int value = source[pos++] & mask;
        if (value < mask)
        {
            position = pos;
            return value;
        }

        long result = value;
        int shift = 0;
        while (true)
        {
            if ((uint)pos >= (uint)source.Length)
            {
                HpackException.ThrowCompression("Truncated integer.");
            }

            byte b = source[pos++];
            result += (long)(b & 0x7F) << shift;
            if (result > int.MaxValue)
            {
                HpackException.ThrowCompression("Integer overflow.");
            }

            if ((b & 0x80) == 0)
            {
                position = pos;
                return (int)result;
            }

            shift += 7;
            if (shift > MaxContinuationShift)
            {
                HpackException.ThrowCompression("Integer overflow (too many continuation octets).");
            }
        }
    }
}

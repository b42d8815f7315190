using System.Runtime.CompilerServices;

namespace Ambient.Http2.Hpack;

/// <summary>
/// The static Huffman code of RFC 7541 Appendix B, used for string literals (§5.2).
/// Encoding pads the last octet with the most significant bits of EOS (all ones). Decoding rejects padding longer
/// than 7 bits, padding that is not all ones, and an EOS symbol inside the string (§5.2).
/// </summary>
public static class Huffman
{
    /// <summary>EOS symbol (never appears in a valid string).</summary>
    internal const int Eos = 256;

    private const int FastBits = 8;
    private const int MinCodeLength = 5;
    private const int MaxCodeLength = 30;

    // RFC 7541 Appendix B: code (aligned to LSB) and length in bits, indexed by symbol 0..256 (256 = EOS).
    private static readonly uint[] s_codes =
    [
        0x1ff8, 0x7fffd8, 0xfffffe2, 0xfffffe3, 0xfffffe4, 0xfffffe5, 0xfffffe6, 0xfffffe7, //   0-  7
        0xfffffe8, 0xffffea, 0x3ffffffc, 0xfffffe9, 0xfffffea, 0x3ffffffd, 0xfffffeb, 0xfffffec, //   8- 15
        0xfffffed, 0xfffffee, 0xfffffef, 0xffffff0, 0xffffff1, 0xffffff2, 0x3ffffffe, 0xffffff3, //  16- 23
        0xffffff4, 0xffffff5, 0xffffff6, 0xffffff7, 0xffffff8, 0xffffff9, 0xffffffa, 0xffffffb, //  24- 31
        0x14, 0x3f8, 0x3f9, 0xffa, 0x1ff9, 0x15, 0xf8, 0x7fa, //  32- 39  ' ' ! " # $ % & '
        0x3fa, 0x3fb, 0xf9, 0x7fb, 0xfa, 0x16, 0x17, 0x18, //  40- 47  ( ) * + , - . /
        0x0, 0x1, 0x2, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, //  48- 55  0-7
        0x1e, 0x1f, 0x5c, 0xfb, 0x7ffc, 0x20, 0xffb, 0x3fc, //  56- 63  8 9 : ; < = > ?
        0x1ffa, 0x21, 0x5d, 0x5e, 0x5f, 0x60, 0x61, 0x62, //  64- 71  @ A-G
        0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6a, //  72- 79  H-O
        0x6b, 0x6c, 0x6d, 0x6e, 0x6f, 0x70, 0x71, 0x72, //  80- 87  P-W
        0xfc, 0x73, 0xfd, 0x1ffb, 0x7fff0, 0x1ffc, 0x3ffc, 0x22, //  88- 95  X Y Z [ \ ] ^ _
        0x7ffd, 0x3, 0x23, 0x4, 0x24, 0x5, 0x25, 0x26, //  96-103  ` a-g
        0x27, 0x6, 0x74, 0x75, 0x28, 0x29, 0x2a, 0x7, // 104-111  h-o
        0x2b, 0x76, 0x2c, 0x8, 0x9, 0x2d, 0x77, 0x78, // 112-119  p-w
        0x79, 0x7a, 0x7b, 0x7ffe, 0x7fc, 0x3ffd, 0x1ffd, 0xffffffc, // 120-127  x y z { | } ~ DEL
        0xfffe6, 0x3fffd2, 0xfffe7, 0xfffe8, 0x3fffd3, 0x3fffd4, 0x3fffd5, 0x7fffd9, // 128-135
        0x3fffd6, 0x7fffda, 0x7fffdb, 0x7fffdc, 0x7fffdd, 0x7fffde, 0xffffeb, 0x7fffdf, // 136-143
        0xffffec, 0xffffed, 0x3fffd7, 0x7fffe0, 0xffffee, 0x7fffe1, 0x7fffe2, 0x7fffe3, // 144-151
        0x7fffe4, 0x1fffdc, 0x3fffd8, 0x7fffe5, 0x3fffd9, 0x7fffe6, 0x7fffe7, 0xffffef, // 152-159
        0x3fffda, 0x1fffdd, 0xfffe9, 0x3fffdb, 0x3fffdc, 0x7fffe8, 0x7fffe9, 0x1fffde, // 160-167
        0x7fffea, 0x3fffdd, 0x3fffde, 0xfffff0, 0x1fffdf, 0x3fffdf, 0x7fffeb, 0x7fffec, // 168-175
        0x1fffe0, 0x1fffe1, 0x3fffe0, 0x1fffe2, 0x7fffed, 0x3fffe1, 0x7fffee, 0x7fffef, // 176-183
        0xfffea, 0x3fffe2, 0x3fffe3, 0x3fffe4, 0x7ffff0, 0x3fffe5, 0x3fffe6, 0x7ffff1, // 184-191
        0x3ffffe0, 0x3ffffe1, 0xfffeb, 0x7fff1, 0x3fffe7, 0x7ffff2, 0x3fffe8, 0x1ffffec, // 192-199
        0x3ffffe2, 0x3ffffe3, 0x3ffffe4, 0x7ffffde, 0x7ffffdf, 0x3ffffe5, 0xfffff1, 0x1ffffed, // 200-207
        0x7fff2, 0x1fffe3, 0x3ffffe6, 0x7ffffe0, 0x7ffffe1, 0x3ffffe7, 0x7ffffe2, 0xfffff2, // 208-215
        0x1fffe4, 0x1fffe5, 0x3ffffe8, 0x3ffffe9, 0xffffffd, 0x7ffffe3, 0x7ffffe4, 0x7ffffe5, // 216-223
        0xfffec, 0xfffff3, 0xfffed, 0x1fffe6, 0x3fffe9, 0x1fffe7, 0x1fffe8, 0x7ffff3, // 224-231
        0x3fffea, 0x3fffeb, 0x1ffffee, 0x1ffffef, 0xfffff4, 0xfffff5, 0x3ffffea, 0x7ffff4, // 232-239
        0x3ffffeb, 0x7ffffe6, 0x3ffffec, 0x3ffffed, 0x7ffffe7, 0x7ffffe8, 0x7ffffe9, 0x7ffffea, // 240-247
        0x7ffffeb, 0xffffffe, 0x7ffffec, 0x7ffffed, 0x7ffffee, 0x7ffffef, 0x7fffff0, 0x3ffffee, // 248-255
        0x3fffffff, // 256 EOS
    ];

    private static readonly byte[] s_lengths =
    [
        13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28, //   0- 15
        28, 28, 28, 28, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 28, //  16- 31
        6, 10, 10, 12, 13, 6, 8, 11, 10, 10, 8, 11, 8, 6, 6, 6, //  32- 47
        5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 7, 8, 15, 6, 12, 10, //  48- 63
        13, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, //  64- 79
        7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 8, 13, 19, 13, 14, 6, //  80- 95
        15, 5, 6, 5, 6, 5, 6, 6, 6, 5, 7, 7, 6, 6, 6, 5, //  96-111
        6, 7, 6, 5, 5, 6, 7, 7, 7, 7, 7, 15, 11, 14, 13, 28, // 112-127
        20, 22, 20, 20, 22, 22, 22, 23, 22, 23, 23, 23, 23, 23, 24, 23, // 128-143
        24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23, 23, 24, // 144-159
        22, 21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23, // 160-175
        21, 21, 22, 21, 23, 22, 23, 23, 20, 22, 22, 22, 23, 22, 22, 23, // 176-191
        26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25, // 192-207
        19, 21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27, // 208-223
        20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25, 25, 24, 24, 26, 23, // 224-239
        26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26, // 240-255
        30, // 256 EOS
    ];

    // Decoding tables, derived from the code above at type initialisation.
    // s_fast[top 8 bits] = (length << 9) | symbol for codes of at most 8 bits, 0 when the code is longer.
    private static readonly ushort[] s_fast = new ushort[1 << FastBits];

    // The code is canonical: the codes of one length are consecutive, in symbol order, so a code of length L
    // is valid iff code - s_firstCode[L] < s_countOfLength[L]; its symbol is s_symbols[s_offset[L] + that].
    private static readonly uint[] s_firstCode = new uint[MaxCodeLength + 1];
    private static readonly int[] s_countOfLength = new int[MaxCodeLength + 1];
    private static readonly int[] s_offset = new int[MaxCodeLength + 1];
    private static readonly ushort[] s_symbols = new ushort[257];

    static Huffman()
    {
        int next = 0;
        for (int length = MinCodeLength; length <= MaxCodeLength; length++)
        {
            s_offset[length] = next;
            int count = 0;
            for (int sym = 0; sym <= Eos; sym++)
            {
                if (s_lengths[sym] != length)
                {
                    continue;
                }

                if (count == 0)
                {
                    s_firstCode[length] = s_codes[sym];
                }
                else if (s_codes[sym] != s_firstCode[length] + (uint)count)
                {
                    throw new InvalidOperationException("HPACK Huffman table is not canonical.");
                }

                s_symbols[next++] = (ushort)sym;
                count++;
            }

            s_countOfLength[length] = count;
        }

        for (int sym = 0; sym < Eos; sym++)
        {
            int length = s_lengths[sym];
            if (length > FastBits)
            {
                continue;
            }

            int first = (int)s_codes[sym] << (FastBits - length);
            int span = 1 << (FastBits - length);
            for (int i = 0; i < span; i++)
            {
                s_fast[first + i] = (ushort)((length << 9) | sym);
            }
        }
    }

    /// <summary>Code (LSB-aligned) of a symbol; exposed for tests.</summary>
    internal static uint GetCode(int symbol) => s_codes[symbol];

    /// <summary>Code length in bits of a symbol; exposed for tests.</summary>
    internal static int GetCodeLength(int symbol) => s_lengths[symbol];

    /// <summary>Octets the Huffman encoding of <paramref name="src"/> takes, padding included.</summary>
    public static int GetEncodedLength(ReadOnlySpan<byte> src)
    {
        long bits = 0;
        byte[] lengths = s_lengths;
        foreach (byte b in src)
        {
            bits += lengths[b];
        }

        return checked((int)((bits + 7) >> 3));
    }

    /// <summary>As <see cref="GetEncodedLength(ReadOnlySpan{byte})"/> for Latin-1 chars (all must be &lt;= 0xFF).</summary>
    internal static int GetEncodedLength(ReadOnlySpan<char> src)
    {
        long bits = 0;
        byte[] lengths = s_lengths;
        foreach (char c in src)
        {
            bits += lengths[(byte)c];
        }

        return checked((int)((bits + 7) >> 3));
    }

    /// <summary>
    /// Huffman-encodes <paramref name="src"/> into <paramref name="dst"/> and returns the octets written.
    /// Throws <see cref="ArgumentException"/> when <paramref name="dst"/> is too small.
    /// </summary>
    public static int Encode(ReadOnlySpan<byte> src, Span<byte> dst)
    {
        // Every code is at most 30 bits, so 4 octets per input octet always suffice.
        if (dst.Length < (long)src.Length * 4 && dst.Length < GetEncodedLength(src))
        {
            throw new ArgumentException("Destination is too small for the Huffman encoding.", nameof(dst));
        }

        uint[] codes = s_codes;
        byte[] lengths = s_lengths;
        ulong acc = 0;
        int bits = 0;
        int o = 0;
        foreach (byte b in src)
        {
            acc = (acc << lengths[b]) | codes[b];
            bits += lengths[b];
            while (bits >= 8)
            {
                bits -= 8;
                dst[o++] = (byte)(acc >> bits);
            }
        }

        if (bits > 0)
        {
            // Pad with the most significant bits of EOS (all ones).
            dst[o++] = (byte)((acc << (8 - bits)) | (0xFFu >> bits));
        }

        return o;
    }

    /// <summary>
    /// As <see cref="Encode(ReadOnlySpan{byte}, Span{byte})"/> for Latin-1 chars (all must be &lt;= 0xFF); the
    /// caller guarantees <paramref name="dst"/> holds <see cref="GetEncodedLength(ReadOnlySpan{char})"/> octets.
    /// </summary>
    internal static int Encode(ReadOnlySpan<char> src, Span<byte> dst)
    {
        uint[] codes = s_codes;
        byte[] lengths = s_lengths;
        ulong acc = 0;
        int bits = 0;
        int o = 0;
        foreach (char c in src)
        {
            byte b = (byte)c;
            acc = (acc << lengths[b]) | codes[b];
            bits += lengths[b];
            while (bits >= 8)
            {
                bits -= 8;
                dst[o++] = (byte)(acc >> bits);
            }
        }

        if (bits > 0)
        {
            dst[o++] = (byte)((acc << (8 - bits)) | (0xFFu >> bits));
        }

        return o;
    }

    /// <summary>Upper bound of the decoded length of <paramref name="encodedLength"/> octets (5-bit shortest code).</summary>
    internal static int GetMaxDecodedLength(int encodedLength) => (int)((long)encodedLength * 8 / MinCodeLength);

    /// <summary>
    /// Decodes <paramref name="src"/> into <paramref name="dst"/> and returns the decoded length. Throws
    /// <see cref="HpackException"/> (Compression) on an invalid code, invalid padding or EOS, and
    /// <see cref="ArgumentException"/> when <paramref name="dst"/> is too small.
    /// </summary>
    public static int Decode(ReadOnlySpan<byte> src, Span<byte> dst)
    {
        if (!TryDecode(src, dst, out int written))
        {
            throw new ArgumentException("Destination is too small for the decoded string.", nameof(dst));
        }

        return written;
    }

    /// <summary>
    /// Decodes <paramref name="src"/> into <paramref name="dst"/>. Returns false (without a meaningful
    /// <paramref name="written"/>) when <paramref name="dst"/> is too small; throws <see cref="HpackException"/>
    /// (Compression) on invalid input.
    /// </summary>
    internal static bool TryDecode(ReadOnlySpan<byte> src, Span<byte> dst, out int written)
    {
        ushort[] fast = s_fast;
        ulong window = 0; // unread bits, left-aligned at bit 63
        int bits = 0;
        int pos = 0;
        int o = 0;

        while (true)
        {
            while (bits <= 56 && pos < src.Length)
            {
                window |= (ulong)src[pos++] << (56 - bits);
                bits += 8;
            }

            if (bits == 0)
            {
                break;
            }

            int symbol;
            int length;
            ushort entry = fast[(int)(window >> (64 - FastBits))];
            if (entry != 0 && (entry >> 9) <= bits)
            {
                symbol = entry & 0x1FF;
                length = entry >> 9;
            }
            else if (!TryDecodeLong(window, bits, out symbol, out length))
            {
                // Not a complete code: what is left must be the padding (a prefix of EOS, under 8 bits).
                if (bits > 7)
                {
                    // With at least 30 bits available the code is complete, so this is the end of the input.
                    HpackException.ThrowCompression("Invalid Huffman padding (longer than 7 bits).");
                }

                ulong padding = window >> (64 - bits);
                if (padding != (1UL << bits) - 1)
                {
                    HpackException.ThrowCompression("Invalid Huffman padding (not a prefix of EOS).");
                }

                break;
            }

            if (symbol == Eos)
            {
                HpackException.ThrowCompression("Huffman string contains EOS.");
            }

            if ((uint)o >= (uint)dst.Length)
            {
                written = 0;
                return false;
            }

            dst[o++] = (byte)symbol;
            window <<= length;
            bits -= length;
        }

        written = o;
        return true;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static bool TryDecodeLong(ulong window, int bits, out int symbol, out int length)
    {
        int max = Math.Min(bits, MaxCodeLength);
        for (int l = FastBits + 1; l <= max; l++)
        {
            uint delta = (uint)(window >> (64 - l)) - s_firstCode[l];
            if (delta < (uint)s_countOfLength[l])
            {
                symbol = s_symbols[s_offset[l] + (int)delta];
                length = l;
                return true;
            }
        }

        symbol = 0;
        length = 0;
        return false;
    }
}

using System.Buffers;
using System.Text;

namespace Ambient.Http2.Hpack;

/// <summary>
/// Encodes HPACK header blocks (RFC 7541) for one direction of one HTTP/2 connection. Not thread-safe; blocks
/// must be written to the wire in the order they were encoded.
/// </summary>
/// <remarks>
/// Strategy: an exact static or dynamic match is sent indexed; otherwise the field is a literal with the
/// name indexed when possible, added to the dynamic table if it takes at most half the table (so one entry does
/// not flush the rest), and never indexed for credentials (authorization, proxy-authorization, cookie).
/// Strings are Huffman-coded when that is strictly shorter.
/// </remarks>
public sealed class HpackEncoder
{
    /// <summary>SETTINGS_HEADER_TABLE_SIZE every decoder starts with.</summary>
    private const int ProtocolDefaultTableSize = 4096;

    private readonly int _maxDynamicTableSize;
    private readonly DynamicTable _table;

    // Insertion number of the newest dynamic entry for each (name, value) and for each name.
    private readonly Dictionary<(string Name, string Value), long> _fieldIndex = new();
    private readonly Dictionary<string, long> _nameIndex = new(StringComparer.Ordinal);

    // The table size the peer's decoder last heard of, and the smallest size the table has had since.
    private int _announcedSize = ProtocolDefaultTableSize;
    private int _minSizeSinceAnnounced = ProtocolDefaultTableSize;

    /// <param name="maxDynamicTableSize">Upper bound on the dynamic table this encoder uses, whatever the peer
    /// allows.</param>
    public HpackEncoder(int maxDynamicTableSize = 4096)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(maxDynamicTableSize);
        _maxDynamicTableSize = maxDynamicTableSize;
        _table = new DynamicTable(ProtocolDefaultTableSize);
        ApplyTableSize(Math.Min(maxDynamicTableSize, ProtocolDefaultTableSize));
    }

    /// <summary>Whether string literals may be Huffman-coded (tests turn it off to reproduce RFC examples).</summary>
    internal bool UseHuffman { get; set; } = true;

    /// <summary>The dynamic table, for tests and diagnostics.</summary>
    internal DynamicTable DynamicTable => _table;

    /// <summary>
    /// Applies the peer's SETTINGS_HEADER_TABLE_SIZE: the table shrinks to at most this now, and the next block
    /// starts with the dynamic table size update(s) that tell the peer (§4.2: the smallest size reached, then the
    /// final one).
    /// </summary>
    public void SetPeerMaxTableSize(int size)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(size);
        ApplyTableSize(Math.Min(size, _maxDynamicTableSize));
    }

    /// <summary>Encodes one header block into <paramref name="output"/>.</summary>
    /// <exception cref="ArgumentException">A name or value is null or has a char above U+00FF (strings are
    /// octets read as Latin-1). Nothing is written and the encoder state is unchanged.</exception>
    public void Encode(ReadOnlySpan<HeaderField> headers, IBufferWriter<byte> output)
    {
        ArgumentNullException.ThrowIfNull(output);
        foreach (ref readonly HeaderField header in headers)
        {
            Validate(header.Name);
            Validate(header.Value);
        }

        WriteSizeUpdates(output);

        foreach (ref readonly HeaderField header in headers)
        {
            EncodeField(header, output);
        }
    }

    private static void Validate(string? s)
    {
        if (s is null)
        {
            throw new ArgumentException("Header names and values must not be null.");
        }

        if (s.AsSpan().ContainsAnyExceptInRange('\0', '\u00FF'))
        {
            throw new ArgumentException("Header names and values must be Latin-1 (chars up to U+00FF).");
        }
    }

    private static bool IsNeverIndexed(string name) =>
        name.Length switch
        {
            6 => string.Equals(name, "cookie", StringComparison.OrdinalIgnoreCase),
            13 => string.Equals(name, "authorization", StringComparison.OrdinalIgnoreCase),
            19 => string.Equals(name, "proxy-authorization", StringComparison.OrdinalIgnoreCase),
            _ => false,
        };

    private void ApplyTableSize(int newSize)
    {
        while (_table.Size > newSize)
        {
            Evict();
        }

        _table.SetMaxSize(newSize);
        _minSizeSinceAnnounced = Math.Min(_minSizeSinceAnnounced, newSize);
    }

    /// <summary>
    /// §4.2/§6.3: announces table size changes at the start of a block. If the size dipped below both the
    /// announced and the final size, the dip is announced first so the peer evicts exactly what we evicted.
    /// </summary>
    private void WriteSizeUpdates(IBufferWriter<byte> output)
    {
        int final = _table.MaxSize;
        bool dipped = _minSizeSinceAnnounced < _announcedSize && _minSizeSinceAnnounced < final;
        if (!dipped && final == _announcedSize)
        {
            return;
        }

        Span<byte> span = output.GetSpan(2 * IntegerCodec.MaxEncodedLength);
        int n = 0;
        if (dipped)
        {
            n += IntegerCodec.Encode(_minSizeSinceAnnounced, 5, 0x20, span);
        }

        n += IntegerCodec.Encode(final, 5, 0x20, span[n..]);
        output.Advance(n);
        _announcedSize = final;
        _minSizeSinceAnnounced = final;
    }

    private void EncodeField(in HeaderField header, IBufferWriter<byte> output)
    {
        string name = header.Name;
        string value = header.Value;

        if (IsNeverIndexed(name))
        {
            // §6.2.3 Literal Header Field Never Indexed: 0001xxxx
            WriteLiteral(0x10, 4, FindNameIndex(name), name, value, output);
            return;
        }

        int index = StaticTable.FindField(name, value);
        if (index == 0 && _fieldIndex.TryGetValue((name, value), out long insertion))
        {
            index = DynamicIndex(insertion);
        }

        if (index != 0)
        {
            // §6.1 Indexed Header Field: 1xxxxxxx
            Span<byte> span = output.GetSpan(IntegerCodec.MaxEncodedLength);
            output.Advance(IntegerCodec.Encode(index, 7, 0x80, span));
            return;
        }

        int nameIndex = FindNameIndex(name);
        long size = (long)name.Length + value.Length + 32;
        if (size <= _table.MaxSize / 2)
        {
            // §6.2.1 Literal Header Field with Incremental Indexing: 01xxxxxx
            WriteLiteral(0x40, 6, nameIndex, name, value, output);
            Insert(header, (int)size);
        }
        else
        {
            // §6.2.2 Literal Header Field without Indexing: 0000xxxx
            WriteLiteral(0x00, 4, nameIndex, name, value, output);
        }
    }

    private int FindNameIndex(string name)
    {
        int index = StaticTable.FindName(name);
        if (index == 0 && _nameIndex.TryGetValue(name, out long insertion))
        {
            index = DynamicIndex(insertion);
        }

        return index;
    }

    private int DynamicIndex(long insertion) =>
        StaticTable.Count + 1 + (int)(_table.InsertCount - 1 - insertion);

    private void Insert(in HeaderField header, int size)
    {
        while (_table.Size + size > _table.MaxSize)
        {
            Evict();
        }

        _table.Add(header);
        long insertion = _table.InsertCount - 1;
        _fieldIndex[(header.Name, header.Value)] = insertion;
        _nameIndex[header.Name] = insertion;
    }

    private void Evict()
    {
        long insertion = _table.InsertCount - _table.Count;
        HeaderField evicted = _table.EvictOldest();

        // Entries leave in insertion order, so a key still mapped to this insertion has no newer entry.
        if (_fieldIndex.TryGetValue((evicted.Name, evicted.Value), out long newest) && newest == insertion)
        {
            _fieldIndex.Remove((evicted.Name, evicted.Value));
        }

        if (_nameIndex.TryGetValue(evicted.Name, out newest) && newest == insertion)
        {
            _nameIndex.Remove(evicted.Name);
        }
    }

    private void WriteLiteral(byte flags, int prefixBits, int nameIndex, string name, string value, IBufferWriter<byte> output)
    {
        int maxLength = IntegerCodec.MaxEncodedLength + IntegerCodec.MaxEncodedLength + value.Length;
        if (nameIndex == 0)
        {
            maxLength += IntegerCodec.MaxEncodedLength + name.Length;
        }

        Span<byte> span = output.GetSpan(maxLength);
        int n = IntegerCodec.Encode(nameIndex, prefixBits, flags, span);
        if (nameIndex == 0)
        {
            n += WriteString(name, span[n..]);
        }

        n += WriteString(value, span[n..]);
        output.Advance(n);
    }

    /// <summary>Writes a §5.2 string literal; at most 6 + s.Length octets.</summary>
    private int WriteString(string s, Span<byte> destination)
    {
        if (UseHuffman && s.Length > 0)
        {
            int huffmanLength = Huffman.GetEncodedLength(s.AsSpan());
            if (huffmanLength < s.Length)
            {
                int h = IntegerCodec.Encode(huffmanLength, 7, 0x80, destination);
                return h + Huffman.Encode(s.AsSpan(), destination[h..]);
            }
        }

        int n = IntegerCodec.Encode(s.Length, 7, 0x00, destination);
        return n + Encoding.Latin1.GetBytes(s, destination[n..]);
    }
}

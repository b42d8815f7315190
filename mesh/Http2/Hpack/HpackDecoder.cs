using System.Buffers;
using System.Runtime.CompilerServices;
using System.Text;

namespace Ambient.Http2.Hpack;

/// <summary>
/// Decodes HPACK header blocks (RFC 7541) for one direction of one HTTP/2 connection.
/// Not thread-safe. After an <see cref="HpackException"/> the decoder's state no longer matches the peer's
/// encoder and it must not be used again (the connection is torn down).
/// </summary>
public sealed class HpackDecoder
{
    /// <summary>SETTINGS_HEADER_TABLE_SIZE every peer assumes until our SETTINGS are acknowledged.</summary>
    private const int ProtocolDefaultTableSize = 4096;

    private const int StackBufferSize = 256;

    private readonly DynamicTable _table;
    private int _maxDynamicTableSize;
    private int _maxHeaderListSize;
    private bool _sizeUpdateRequired;

    /// <param name="maxDynamicTableSize">The SETTINGS_HEADER_TABLE_SIZE we advertise. The table starts at
    /// min(this, 4096) — the protocol default the peer's encoder assumes — and grows only when the peer sends a
    /// dynamic table size update.</param>
    /// <param name="maxHeaderListSize">Bound on the decoded header list: the sum of name + value + 32 over the
    /// fields of one block.</param>
    public HpackDecoder(int maxDynamicTableSize = 4096, int maxHeaderListSize = 65536)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(maxDynamicTableSize);
        ArgumentOutOfRangeException.ThrowIfNegative(maxHeaderListSize);
        _maxDynamicTableSize = maxDynamicTableSize;
        _maxHeaderListSize = maxHeaderListSize;
        _table = new DynamicTable(Math.Min(maxDynamicTableSize, ProtocolDefaultTableSize));
    }

    /// <summary>
    /// The SETTINGS_HEADER_TABLE_SIZE we advertised (set it when the peer acknowledges the SETTINGS frame).
    /// A dynamic table size update above it is a Compression error. Lowering it below the table's current
    /// maximum size obliges the peer to start its next header block with a size update (RFC 7541 §4.2); a
    /// block that does not is a Compression error.
    /// </summary>
    public int MaxDynamicTableSize
    {
        get => _maxDynamicTableSize;
        set
        {
            ArgumentOutOfRangeException.ThrowIfNegative(value);
            _maxDynamicTableSize = value;
            if (value < _table.MaxSize)
            {
                _sizeUpdateRequired = true;
            }
        }
    }

    /// <summary>Bound on the decoded header list of one block (sum of <see cref="HeaderField.HpackSize"/>).</summary>
    public int MaxHeaderListSize
    {
        get => _maxHeaderListSize;
        set
        {
            ArgumentOutOfRangeException.ThrowIfNegative(value);
            _maxHeaderListSize = value;
        }
    }

    /// <summary>The dynamic table, for tests and diagnostics.</summary>
    internal DynamicTable DynamicTable => _table;

    /// <summary>Decodes one complete header block and appends its fields to <paramref name="output"/>.</summary>
    public void Decode(ReadOnlySequence<byte> block, List<HeaderField> output)
    {
        if (block.IsSingleSegment)
        {
            Decode(block.FirstSpan, output);
            return;
        }

        ArgumentNullException.ThrowIfNull(output);
        long length = block.Length;
        if (length > Array.MaxLength)
        {
            HpackException.ThrowTooLarge("Header block too large.");
        }

        byte[] rented = ArrayPool<byte>.Shared.Rent((int)length);
        try
        {
            block.CopyTo(rented);
            Decode(rented.AsSpan(0, (int)length), output);
        }
        finally
        {
            // Blocks carry credentials; do not leave them in the shared pool.
            ArrayPool<byte>.Shared.Return(rented, clearArray: true);
        }
    }

    /// <summary>Decodes one complete header block and appends its fields to <paramref name="output"/>.</summary>
    public void Decode(ReadOnlySpan<byte> block, List<HeaderField> output)
    {
        ArgumentNullException.ThrowIfNull(output);

        int pos = 0;
        long listSize = 0;
        bool fieldSeen = false;

        while (pos < block.Length)
        {
            byte first = block[pos];
            if ((first & 0x80) != 0)
            {
                // §6.1 Indexed Header Field: 1xxxxxxx
                BeginField(ref fieldSeen);
                int index = IntegerCodec.Decode(block, ref pos, 7);
                HeaderField field = GetEntry(index);
                listSize += field.HpackSize;
                if (listSize > _maxHeaderListSize)
                {
                    HpackException.ThrowTooLarge("Header list exceeds the maximum size.");
                }

                output.Add(field);
            }
            else if ((first & 0x40) != 0)
            {
                // §6.2.1 Literal Header Field with Incremental Indexing: 01xxxxxx
                BeginField(ref fieldSeen);
                HeaderField field = ReadLiteral(block, ref pos, 6, ref listSize);
                output.Add(field);
                _table.Add(field);
            }
            else if ((first & 0x20) != 0)
            {
                // §6.3 Dynamic Table Size Update: 001xxxxx, only at the start of a block (§4.2).
                if (fieldSeen)
                {
                    HpackException.ThrowCompression("Dynamic table size update after a header field.");
                }

                int size = IntegerCodec.Decode(block, ref pos, 5);
                if (size > _maxDynamicTableSize)
                {
                    HpackException.ThrowCompression("Dynamic table size update exceeds SETTINGS_HEADER_TABLE_SIZE.");
                }

                _table.SetMaxSize(size);
                _sizeUpdateRequired = false;
            }
            else
            {
                // §6.2.2 without indexing (0000xxxx) / §6.2.3 never indexed (0001xxxx). Never-indexed-ness is
                // a hint for re-encoders; an endpoint terminating the hop has no use for it.
                BeginField(ref fieldSeen);
                output.Add(ReadLiteral(block, ref pos, 4, ref listSize));
            }
        }
    }

    private void BeginField(ref bool fieldSeen)
    {
        if (!fieldSeen)
        {
            if (_sizeUpdateRequired)
            {
                HpackException.ThrowCompression("Missing dynamic table size update after SETTINGS_HEADER_TABLE_SIZE was lowered.");
            }

            fieldSeen = true;
        }
    }

    private HeaderField ReadLiteral(ReadOnlySpan<byte> block, ref int pos, int prefixBits, ref long listSize)
    {
        int index = IntegerCodec.Decode(block, ref pos, prefixBits);

        // Octets left for the name and value of this field within the header list budget.
        long budget = _maxHeaderListSize - listSize - 32;
        if (budget < 0)
        {
            HpackException.ThrowTooLarge("Header list exceeds the maximum size.");
        }

        string name;
        if (index == 0)
        {
            name = ReadString(block, ref pos, budget);
        }
        else
        {
            name = GetEntry(index).Name;
            if (name.Length > budget)
            {
                HpackException.ThrowTooLarge("Header list exceeds the maximum size.");
            }
        }

        string value = ReadString(block, ref pos, budget - name.Length);
        listSize += name.Length + value.Length + 32;
        return new HeaderField(name, value);
    }

    private HeaderField GetEntry(int index)
    {
        if (index == 0)
        {
            HpackException.ThrowCompression("Index 0 is not a valid table index.");
        }

        if (index <= StaticTable.Count)
        {
            return StaticTable.Get(index);
        }

        int dynamicIndex = index - StaticTable.Count - 1;
        if (dynamicIndex >= _table.Count)
        {
            HpackException.ThrowCompression("Index beyond the dynamic table.");
        }

        return _table[dynamicIndex];
    }

    /// <summary>
    /// Reads a §5.2 string literal. The decoded length is checked against <paramref name="budget"/> before
    /// anything is allocated for it.
    /// </summary>
    [SkipLocalsInit]
    private static string ReadString(ReadOnlySpan<byte> block, ref int pos, long budget)
    {
        if (pos >= block.Length)
        {
            HpackException.ThrowCompression("Truncated string literal.");
        }

        bool huffman = (block[pos] & 0x80) != 0;
        int length = IntegerCodec.Decode(block, ref pos, 7);
        if (length > block.Length - pos)
        {
            HpackException.ThrowCompression("String literal runs past the end of the header block.");
        }

        ReadOnlySpan<byte> raw = block.Slice(pos, length);
        pos += length;

        if (length == 0)
        {
            return string.Empty;
        }

        if (!huffman)
        {
            if (length > budget)
            {
                HpackException.ThrowTooLarge("Header list exceeds the maximum size.");
            }

            return Encoding.Latin1.GetString(raw);
        }

        int capacity = (int)Math.Min(Huffman.GetMaxDecodedLength(length), budget);
        byte[]? rented = null;
        Span<byte> buffer = capacity <= StackBufferSize
            ? stackalloc byte[StackBufferSize]
            : (rented = ArrayPool<byte>.Shared.Rent(capacity));
        try
        {
            if (!Huffman.TryDecode(raw, buffer[..capacity], out int written))
            {
                HpackException.ThrowTooLarge("Header list exceeds the maximum size.");
            }

            return Encoding.Latin1.GetString(buffer[..written]);
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }
    }
}

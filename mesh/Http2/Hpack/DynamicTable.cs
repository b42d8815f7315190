namespace Ambient.Http2.Hpack;

/// <summary>
/// The HPACK dynamic table (RFC 7541 §2.3.2, §4): a FIFO of entries held in a ring buffer, newest first for
/// indexing, whose size (sum of name + value + 32 per entry) never exceeds <see cref="MaxSize"/>.
/// </summary>
internal sealed class DynamicTable
{
    private HeaderField[] _entries;
    private int _oldest;   // ring position of the oldest entry
    private int _count;
    private int _size;
    private int _maxSize;
    private long _insertCount;

    public DynamicTable(int maxSize)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(maxSize);
        _maxSize = maxSize;
        _entries = new HeaderField[Math.Clamp(maxSize / 32 + 1, 1, 16)];
    }

    /// <summary>Number of entries.</summary>
    public int Count => _count;

    /// <summary>Current size in octets (RFC 7541 §4.1).</summary>
    public int Size => _size;

    /// <summary>Maximum size in octets, as last set by a dynamic table size update.</summary>
    public int MaxSize => _maxSize;

    /// <summary>Entries ever inserted; the entry at index i has insertion number InsertCount - 1 - i.</summary>
    public long InsertCount => _insertCount;

    /// <summary>Entry by 0-based position, 0 being the newest (HPACK index 62).</summary>
    public ref readonly HeaderField this[int index]
    {
        get
        {
            if ((uint)index >= (uint)_count)
            {
                throw new ArgumentOutOfRangeException(nameof(index));
            }

            int slot = _oldest + _count - 1 - index;
            if (slot >= _entries.Length)
            {
                slot -= _entries.Length;
            }

            return ref _entries[slot];
        }
    }

    /// <summary>
    /// Inserts an entry as the newest, evicting the oldest ones until it fits (§4.4). An entry larger than
    /// <see cref="MaxSize"/> empties the table and is not inserted.
    /// </summary>
    public void Add(HeaderField field)
    {
        int entrySize = field.HpackSize;
        if (entrySize > _maxSize)
        {
            Clear();
            return;
        }

        while (_size + entrySize > _maxSize)
        {
            EvictOldest();
        }

        if (_count == _entries.Length)
        {
            Grow();
        }

        int slot = _oldest + _count;
        if (slot >= _entries.Length)
        {
            slot -= _entries.Length;
        }

        _entries[slot] = field;
        _count++;
        _size += entrySize;
        _insertCount++;
    }

    /// <summary>Changes the maximum size, evicting the oldest entries until the table fits (§4.3).</summary>
    public void SetMaxSize(int maxSize)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(maxSize);
        _maxSize = maxSize;
        while (_size > maxSize)
        {
            EvictOldest();
        }
    }

    /// <summary>Removes and returns the oldest entry.</summary>
    public HeaderField EvictOldest()
    {
        if (_count == 0)
        {
            throw new InvalidOperationException("The dynamic table is empty.");
        }

        HeaderField field = _entries[_oldest];
        _entries[_oldest] = default;
        _oldest = _oldest + 1 == _entries.Length ? 0 : _oldest + 1;
        _count--;
        _size -= field.HpackSize;
        return field;
    }

    private void Clear()
    {
        while (_count > 0)
        {
            EvictOldest();
        }
    }

    private void Grow()
    {
        // Entries are at least 32 octets, so the ring never needs more than MaxSize / 32 slots; grow by doubling.
        var larger = new HeaderField[_entries.Length * 2];
        for (int i = 0; i < _count; i++)
        {
            int slot = _oldest + i;
            if (slot >= _entries.Length)
            {
                slot -= _entries.Length;
            }

            larger[i] = _entries[slot];
        }

        _entries = larger;
        _oldest = 0;
    }
}

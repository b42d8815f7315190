using System.Collections.Frozen;

namespace Ambient.Http2.Hpack;

/// <summary>The 61-entry static table of RFC 7541 Appendix A (indices 1..61).</summary>
internal static class StaticTable
{
    public const int Count = 61;

    private static readonly HeaderField[] s_entries =
    [
        new(":authority", ""),
        new(":method", "GET"),
        new(":method", "POST"),
        new(":path", "/"),
        new(":path", "/index.html"),
        new(":scheme", "http"),
        new(":scheme", "https"),
        new(":status", "200"),
        new(":status", "204"),
        new(":status", "206"),
        new(":status", "304"),
        new(":status", "400"),
        new(":status", "404"),
        new(":status", "500"),
        new("accept-charset", ""),
        new("accept-encoding", "gzip, deflate"),
        new("accept-language", ""),
        new("accept-ranges", ""),
        new("accept", ""),
        new("access-control-allow-origin", ""),
        new("age", ""),
        new("allow", ""),
        new("authorization", ""),
        new("cache-control", ""),
        new("content-disposition", ""),
        new("content-encoding", ""),
        new("content-language", ""),
        new("content-length", ""),
        new("content-location", ""),
        new("content-range", ""),
        new("content-type", ""),
        new("cookie", ""),
        new("date", ""),
        new("etag", ""),
        new("expect", ""),
        new("expires", ""),
        new("from", ""),
        new("host", ""),
        new("if-match", ""),
        new("if-modified-since", ""),
        new("if-none-match", ""),
        new("if-range", ""),
        new("if-unmodified-since", ""),
        new("last-modified", ""),
        new("link", ""),
        new("location", ""),
        new("max-forwards", ""),
        new("proxy-authenticate", ""),
        new("proxy-authorization", ""),
        new("range", ""),
        new("referer", ""),
        new("refresh", ""),
        new("retry-after", ""),
        new("server", ""),
        new("set-cookie", ""),
        new("strict-transport-security", ""),
        new("transfer-encoding", ""),
        new("user-agent", ""),
        new("vary", ""),
        new("via", ""),
        new("www-authenticate", ""),
    ];

    // Lowest index of each name, and index of each (name, value) pair with a non-empty value.
    private static readonly FrozenDictionary<string, int> s_byName = BuildNameIndex();
    private static readonly FrozenDictionary<(string Name, string Value), int> s_byField = BuildFieldIndex();

    /// <summary>The entry at a 1-based static index (1..61).</summary>
    public static ref readonly HeaderField Get(int index) => ref s_entries[index - 1];

    /// <summary>1-based index of an entry with exactly this name and value, or 0.</summary>
    public static int FindField(string name, string value) =>
        s_byField.TryGetValue((name, value), out int index) ? index : 0;

    /// <summary>Lowest 1-based index of an entry with this name, or 0.</summary>
    public static int FindName(string name) => s_byName.TryGetValue(name, out int index) ? index : 0;

    private static FrozenDictionary<string, int> BuildNameIndex()
    {
        var map = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < s_entries.Length; i++)
        {
            map.TryAdd(s_entries[i].Name, i + 1);
        }

        return map.ToFrozenDictionary(StringComparer.Ordinal);
    }

    private static FrozenDictionary<(string Name, string Value), int> BuildFieldIndex()
    {
        var map = new Dictionary<(string Name, string Value), int>();
        for (int i = 0; i < s_entries.Length; i++)
        {
            // An empty value is still an exact match (e.g. ":authority" ""), so index those too.
            map.TryAdd((s_entries[i].Name, s_entries[i].Value), i + 1);
        }

        return map.ToFrozenDictionary();
    }
}

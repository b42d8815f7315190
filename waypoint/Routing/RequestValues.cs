using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Primitives;

namespace Ambient.Waypoint.Routing;

/// <summary>Per-request reads of header and query values, without LINQ or per-request dictionaries.</summary>
public static class RequestValues
{
    /// <summary>A header's value; several values (or repeated headers) are joined with <c>,</c> as Envoy matches them.</summary>
    public static string? Header(IHeaderDictionary headers, string name)
    {
        if (!headers.TryGetValue(name, out var values) || StringValues.IsNullOrEmpty(values)) return null;
        return values.Count == 1 ? values[0] : string.Join(',', values.ToArray());
    }

    /// <summary>
    /// The first value of query parameter <paramref name="name"/> (Gateway API: only the first occurrence counts),
    /// percent-decoded; names compare exactly. Null when absent; <c>""</c> for <c>?flag</c> or <c>?flag=</c>.
    /// </summary>
    public static string? Query(string query, string name)
    {
        var span = query.AsSpan();
        while (!span.IsEmpty)
        {
            var amp = span.IndexOf('&');
            var pair = amp < 0 ? span : span[..amp];
            span = amp < 0 ? [] : span[(amp + 1)..];
            var eq = pair.IndexOf('=');
            var key = eq < 0 ? pair : pair[..eq];
            if (Decode(key) != name) continue;
            return eq < 0 ? "" : Decode(pair[(eq + 1)..]);
        }
        return null;
    }

    private static string Decode(ReadOnlySpan<char> text)
    {
        if (text.IndexOfAny('%', '+') < 0) return text.ToString();
        try
        {
            return Uri.UnescapeDataString(text.ToString().Replace('+', ' '));
        }
        catch (UriFormatException)
        {
            return text.ToString();
        }
    }
}

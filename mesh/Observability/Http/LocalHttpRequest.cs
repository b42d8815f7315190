using System.Net;

namespace Ambient.Observability.Http;

/// <summary>One request to a <see cref="LocalHttpServer"/>: method, path and decoded query; bodies are not read.</summary>
public sealed record LocalHttpRequest(string Method, string Path, IReadOnlyDictionary<string, string> Query, IPEndPoint Remote)
{
    public string? this[string parameter] => Query.TryGetValue(parameter, out var value) ? value : null;

    /// <summary>Parses <c>"GET /path?a=1&amp;b=x%20y HTTP/1.1"</c>; null when it is not a request line.</summary>
    public static LocalHttpRequest? ParseRequestLine(string line, IPEndPoint remote)
    {
        var parts = line.Split(' ');
        if (parts.Length != 3 || !parts[2].StartsWith("HTTP/1.", StringComparison.Ordinal) || parts[1].Length == 0 || parts[1][0] != '/')
            return null;
        foreach (var c in parts[0])
            if (!char.IsAsciiLetterUpper(c)) return null;
        var target = parts[1];
        var question = target.IndexOf('?');
        var path = question < 0 ? target : target[..question];
        var query = new Dictionary<string, string>(StringComparer.Ordinal);
        if (question >= 0)
        {
            foreach (var pair in target[(question + 1)..].Split('&', StringSplitOptions.RemoveEmptyEntries))
            {
                var eq = pair.IndexOf('=');
                var key = Uri.UnescapeDataString((eq < 0 ? pair : pair[..eq]).Replace('+', ' '));
                var value = eq < 0 ? "" : Uri.UnescapeDataString(pair[(eq + 1)..].Replace('+', ' '));
                query[key] = value;
            }
        }
        return new LocalHttpRequest(parts[0], Uri.UnescapeDataString(path), query, remote);
    }
}

/// <summary>What a handler answers: status, content type and body.</summary>
public sealed record LocalHttpResponse(int Status, string ContentType, ReadOnlyMemory<byte> Body)
{
    public static LocalHttpResponse Text(int status, string text) => new(status, "text/plain; charset=utf-8", System.Text.Encoding.UTF8.GetBytes(text));

    public static LocalHttpResponse Json(int status, ReadOnlyMemory<byte> json) => new(status, "application/json", json);

    /// <summary><c>{"error": "..."}</c> with the given status, for clear 4xx answers.</summary>
    public static LocalHttpResponse Error(int status, string message)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        using (var w = new System.Text.Json.Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("error", message);
            w.WriteEndObject();
        }
        return Json(status, buffer.WrittenMemory);
    }
}

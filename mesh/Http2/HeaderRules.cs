using Ambient.Http2.Frames;

namespace Ambient.Http2;

/// <summary>
/// RFC 9113 §8.2–8.3 checks on a decoded header list. A violation makes the message malformed: a stream
/// error of type PROTOCOL_ERROR. Pure functions, no connection state.
/// </summary>
public static class HeaderRules
{
    public static void ValidateRequest(int streamId, IReadOnlyList<HeaderField> headers)
    {
        bool regularSeen = false, hasMethod = false, hasScheme = false, hasPath = false, hasAuthority = false, hasProtocol = false;
        string? method = null;
        foreach (var h in headers)
        {
            if (h.Name.StartsWith(':'))
            {
                if (regularSeen)
                    throw Malformed(streamId, $"pseudo-header {h.Name} after a regular header");
                switch (h.Name)
                {
                    case ":method": Once(ref hasMethod, streamId, h.Name); method = h.Value; break;
                    case ":scheme": Once(ref hasScheme, streamId, h.Name); break;
                    case ":path": Once(ref hasPath, streamId, h.Name); if (h.Value.Length == 0) throw Malformed(streamId, "empty :path"); break;
                    case ":authority": Once(ref hasAuthority, streamId, h.Name); break;
                    case ":protocol": Once(ref hasProtocol, streamId, h.Name); break;
                    default: throw Malformed(streamId, $"unknown request pseudo-header {h.Name}");
                }
                continue;
            }
            regularSeen = true;
            ValidateRegular(streamId, h);
        }
        if (!hasMethod)
            throw Malformed(streamId, "request without :method");
        if (method == "CONNECT" && !hasProtocol)
        {
            // RFC 9113 §8.5: a plain CONNECT carries only :method and :authority.
            if (!hasAuthority)
                throw Malformed(streamId, "CONNECT without :authority");
            if (hasScheme || hasPath)
                throw Malformed(streamId, "CONNECT with :scheme or :path");
        }
        else if (!hasScheme || !hasPath)
        {
            throw Malformed(streamId, "request without :scheme or :path");
        }
    }

    public static void ValidateResponse(int streamId, IReadOnlyList<HeaderField> headers)
    {
        bool regularSeen = false, hasStatus = false;
        foreach (var h in headers)
        {
            if (h.Name.StartsWith(':'))
            {
                if (regularSeen)
                    throw Malformed(streamId, $"pseudo-header {h.Name} after a regular header");
                if (h.Name != ":status")
                    throw Malformed(streamId, $"unknown response pseudo-header {h.Name}");
                Once(ref hasStatus, streamId, h.Name);
                if (h.Value.Length != 3 || !char.IsAsciiDigit(h.Value[0]) || !char.IsAsciiDigit(h.Value[1]) || !char.IsAsciiDigit(h.Value[2]))
                    throw Malformed(streamId, $"invalid :status '{h.Value}'");
                continue;
            }
            regularSeen = true;
            ValidateRegular(streamId, h);
        }
        if (!hasStatus)
            throw Malformed(streamId, "response without :status");
    }

    /// <summary>Returns the value of the first header with this name, or null.</summary>
    public static string? Get(IReadOnlyList<HeaderField> headers, string name)
    {
        for (int i = 0; i < headers.Count; i++)
            if (headers[i].Name == name)
                return headers[i].Value;
        return null;
    }

    private static void ValidateRegular(int streamId, in HeaderField h)
    {
        if (h.Name.Length == 0)
            throw Malformed(streamId, "empty header name");
        foreach (char c in h.Name)
        {
            if (c is >= 'A' and <= 'Z')
                throw Malformed(streamId, $"upper-case header name '{h.Name}'");
            if (c <= ' ' || c >= 0x7f || c == ':')
                throw Malformed(streamId, $"invalid character in header name '{h.Name}'");
        }
        foreach (char c in h.Value)
            if (c == '\0' || c == '\r' || c == '\n')
                throw Malformed(streamId, $"invalid character in the value of '{h.Name}'");
        switch (h.Name)
        {
            case "connection" or "keep-alive" or "proxy-connection" or "transfer-encoding" or "upgrade":
                throw Malformed(streamId, $"connection-specific header '{h.Name}'");
            case "te" when h.Value != "trailers":
                throw Malformed(streamId, "te header other than 'trailers'");
        }
    }

    private static void Once(ref bool seen, int streamId, string name)
    {
        if (seen)
            throw Malformed(streamId, $"duplicate {name}");
        seen = true;
    }

    private static Http2ProtocolException Malformed(int streamId, string message)
        => Http2ProtocolException.Stream(streamId, Http2ErrorCode.ProtocolError, "malformed header block: " + message);
}

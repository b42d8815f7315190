using System.Net;
using Ambient.Http2;

namespace Ambient.Hbone;

/// <summary>The HBONE request and response shapes (DESIGN.md §3): a plain CONNECT per tunnelled connection.</summary>
public static class HboneHeaders
{
    /// <summary>The CONNECT request: only :method and :authority as pseudo-headers (RFC 9113 §8.5).</summary>
    public static HeaderField[] Connect(IPEndPoint target, IPEndPoint? originalClient, string? traceparent = null)
    {
        int n = 2 + (originalClient is null ? 0 : 1) + (traceparent is null ? 0 : 1);
        var headers = new HeaderField[n];
        headers[0] = new(":method", "CONNECT");
        headers[1] = new(":authority", FormatAuthority(target));
        int i = 2;
        if (originalClient is not null)
            headers[i++] = new("forwarded", $"for=\"{FormatAuthority(originalClient)}\"");
        if (traceparent is not null)
            headers[i] = new("traceparent", traceparent);
        return headers;
    }

    public static HeaderField[] Status(int status) => [new(":status", status.ToString(System.Globalization.CultureInfo.InvariantCulture))];

    public static string FormatAuthority(IPEndPoint ep)
        => ep.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? $"[{ep.Address}]:{ep.Port}" : $"{ep.Address}:{ep.Port}";

    /// <summary>Parses an <c>ip:port</c> authority; names are not accepted (HBONE targets are addresses).</summary>
    public static bool TryParseAuthority(string? authority, out IPEndPoint endpoint)
    {
        endpoint = null!;
        if (string.IsNullOrEmpty(authority) || !IPEndPoint.TryParse(authority, out var ep) || ep.Port == 0)
            return false;
        // IPEndPoint.TryParse accepts a bare address (port 0, rejected above) and bracketless IPv6 with port;
        // require the canonical forms.
        if (ep.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 && !authority.StartsWith('['))
            return false;
        endpoint = ep;
        return true;
    }

    /// <summary>Extracts the client address from <c>Forwarded: for="ip:port"</c>, if present and well-formed.</summary>
    public static IPEndPoint? ParseForwardedFor(string? forwarded)
    {
        if (forwarded is null)
            return null;
        int i = forwarded.IndexOf("for=", StringComparison.OrdinalIgnoreCase);
        if (i < 0)
            return null;
        var rest = forwarded.AsSpan(i + 4).Trim('"');
        int end = rest.IndexOfAny(";,\"");
        if (end >= 0)
            rest = rest[..end];
        return IPEndPoint.TryParse(rest, out var ep) ? ep : null;
    }
}

using Microsoft.AspNetCore.Http;

namespace Ambient.Waypoint.Routing;

/// <summary>
/// What routing and policy see of a request: method, scheme, authority (<c>Host</c>/<c>:authority</c>, possibly with a
/// port), path without the query, the raw query without <c>?</c>, and the headers (Kestrel's dictionary, or a
/// <see cref="HeaderDictionary"/> in tests).
/// </summary>
public sealed record HttpRequestHead(string Method, string Scheme, string Authority, string Path, string Query, IHeaderDictionary Headers)
{
    /// <summary>The authority without a port (<c>[v6]</c> brackets kept).</summary>
    public string Host => AuthorityText.HostOf(Authority);
}

/// <summary>Splits <c>host[:port]</c> authorities, bracketed IPv6 included.</summary>
public static class AuthorityText
{
    public static string HostOf(string authority)
    {
        var colon = authority.LastIndexOf(':');
        if (colon < 0 || authority.IndexOf(']', colon) >= 0) return authority;
        return authority[..colon];
    }

    /// <summary>The explicit port, or null.</summary>
    public static int? PortOf(string authority)
    {
        var colon = authority.LastIndexOf(':');
        if (colon < 0 || authority.IndexOf(']', colon) >= 0) return null;
        return int.TryParse(authority.AsSpan(colon + 1), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var port) ? port : null;
    }
}

using Ambient.Config.Routes;
using Ambient.Waypoint.Routing;

namespace Ambient.Waypoint.Security;

/// <summary>Where a jwtRule looks for its token: headers (with a prefix such as <c>"Bearer "</c>), query parameters, cookies.</summary>
internal sealed class JwtTokenLocator
{
    private static readonly JwtHeaderLocation[] DefaultHeaders = [new("Authorization", "Bearer ")];
    private static readonly string[] DefaultParams = ["access_token"];

    private readonly JwtHeaderLocation[] _headers;
    private readonly string[] _params;
    private readonly string[] _cookies;

    /// <summary>Istio's defaults apply only when the rule names no location at all.</summary>
    public JwtTokenLocator(JwtRule rule)
    {
        var none = rule.FromHeaders.IsEmpty && rule.FromParams.IsEmpty && rule.FromCookies.IsEmpty;
        _headers = none ? DefaultHeaders : [.. rule.FromHeaders];
        _params = none ? DefaultParams : [.. rule.FromParams];
        _cookies = [.. rule.FromCookies];
    }

    /// <summary>The first token found, and the header it came from (null for parameters and cookies).</summary>
    public string? Find(HttpRequestHead request, out string? header)
    {
        header = null;
        foreach (var location in _headers)
        {
            var value = RequestValues.Header(request.Headers, location.Name);
            if (value is null || !value.StartsWith(location.Prefix, StringComparison.OrdinalIgnoreCase)) continue;
            var token = value[location.Prefix.Length..].Trim();
            if (token.Length == 0) continue;
            header = location.Name;
            return token;
        }
        foreach (var name in _params)
        {
            if (RequestValues.Query(request.Query, name) is { Length: > 0 } token) return token;
        }
        if (_cookies.Length > 0 && RequestValues.Header(request.Headers, "Cookie") is { } cookies)
        {
            foreach (var name in _cookies)
            {
                if (Cookie(cookies, name) is { Length: > 0 } token) return token;
            }
        }
        return null;
    }

    private static string? Cookie(string header, string name)
    {
        foreach (var part in header.Split(';', StringSplitOptions.TrimEntries))
        {
            var eq = part.IndexOf('=');
            if (eq > 0 && part.AsSpan(0, eq).SequenceEqual(name)) return part[(eq + 1)..].Trim('"');
        }
        return null;
    }
}

using System.Net;
using YamlDotNet.RepresentationModel;

namespace Ambient.Config.Routes;

/// <summary>Value rules shared by the route parsers (each returns an error message or null).</summary>
internal static class RouteFieldRules
{
    public const string HeaderNameRule = "must be an HTTP header name (RFC 7230 token: letters, digits and !#$%&'*+-.^_`|~)";

    /// <summary>Gateway API <c>HTTPHeaderName</c>: an RFC 7230 token of at most 256 characters.</summary>
    public static string? HeaderName(string name)
    {
        if (name.Length is 0 or > RouteLimits.HeaderNameLength) return $"'{name}' {HeaderNameRule}, at most {RouteLimits.HeaderNameLength} characters";
        foreach (var c in name)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || "!#$%&'*+-.^_`|~".Contains(c))) return $"'{name}' {HeaderNameRule}";
        }
        return null;
    }

    public static string? HeaderValue(string value)
    {
        if (value.Length > RouteLimits.HeaderValueLength) return $"header value is longer than {RouteLimits.HeaderValueLength} characters";
        foreach (var c in value)
        {
            if (c is '\r' or '\n' or '\0') return "header value must not contain CR, LF or NUL";
        }
        return null;
    }

    /// <summary>Gateway API path rules for Exact/PathPrefix matches and path modifiers.</summary>
    public static string? AbsolutePath(string path)
    {
        if (path.Length == 0 || path[0] != '/') return $"'{path}' must be an absolute path starting with '/'";
        if (path.Length > RouteLimits.PathLength) return $"path is longer than {RouteLimits.PathLength} characters";
        foreach (var bad in (ReadOnlySpan<string>)["//", "/./", "/../", "%2f", "%2F", "#"])
        {
            if (path.Contains(bad, StringComparison.Ordinal)) return $"'{path}' must not contain '{bad}'";
        }
        if (path.EndsWith("/..", StringComparison.Ordinal) || path.EndsWith("/.", StringComparison.Ordinal))
            return $"'{path}' must not end with '/.' or '/..'";
        foreach (var c in path)
        {
            if (c <= ' ' || c == 0x7f || c == '?') return $"'{path}' must not contain spaces, control characters or '?'";
        }
        return null;
    }

    /// <summary>Gateway API <c>Hostname</c>: a lowercase DNS name, optionally with a leading <c>*.</c> wildcard label; no IP.</summary>
    public static string? Hostname(string host, bool allowWildcard)
    {
        var name = allowWildcard && host.StartsWith("*.", StringComparison.Ordinal) ? host[2..] : host;
        if (IPAddress.TryParse(host, out _)) return $"'{host}' is an IP address; hostnames must be DNS names";
        if (!DnsNames.IsSubdomain(name))
            return allowWildcard
                ? $"'{host}' is not a valid hostname (a lowercase DNS name, optionally starting with the wildcard label '*.')"
                : $"'{host}' is not a valid hostname (a lowercase DNS name, no wildcard)";
        return null;
    }

    /// <summary>Reports when a list has more items than Gateway API allows.</summary>
    public static void MaxItems(YamlMap map, string key, int max)
    {
        if (map.Get(key) is YamlSequenceNode sequence && sequence.Children.Count > max)
        {
            map.Reader.Error(sequence, map.PathOf(key), $"at most {max} entries are allowed, got {sequence.Children.Count}");
        }
    }

    /// <summary>A Gateway API duration field; null (reported) when invalid.</summary>
    public static TimeSpan? GatewayDuration(YamlMap map, string key)
    {
        var text = map.String(key);
        if (text is null) return null;
        if (DurationText.TryParseGateway(text, out var value)) return value;
        map.Reader.Error(map.Get(key)!, map.PathOf(key), $"'{text}' is not a valid duration ({DurationText.GatewayRule})");
        return null;
    }

    /// <summary>An Istio duration field (at least 1ms unless <paramref name="allowZero"/>); null (reported) when invalid.</summary>
    public static TimeSpan? IstioDuration(YamlMap map, string key, bool allowZero = false)
    {
        var text = map.String(key);
        if (text is null) return null;
        if (!DurationText.TryParseIstio(text, out var value))
        {
            map.Reader.Error(map.Get(key)!, map.PathOf(key), $"'{text}' is not a valid duration ({DurationText.IstioRule})");
            return null;
        }
        if (!allowZero && value < TimeSpan.FromMilliseconds(1))
        {
            map.Reader.Error(map.Get(key)!, map.PathOf(key), $"duration must be at least 1ms, got '{text}'");
            return null;
        }
        return value;
    }

    /// <summary>An integer field in [min, max].</summary>
    public static int? Int(YamlMap map, string key, int min, int max, string what)
    {
        var node = map.Get(key);
        return node is null ? null : map.Reader.Int(node, map.PathOf(key), min, max, what);
    }

    /// <summary>A boolean field (YAML true/false, any case).</summary>
    public static bool? Bool(YamlMap map, string key)
    {
        var text = map.String(key);
        if (text is null) return null;
        if (bool.TryParse(text, out var value)) return value;
        map.Reader.Error(map.Get(key)!, map.PathOf(key), $"'{text}' is not a boolean (expected true or false)");
        return null;
    }

    /// <summary>A number (integer or decimal) in [min, max].</summary>
    public static double? Number(YamlMap map, string key, double min, double max, string what)
    {
        var text = map.String(key);
        if (text is null) return null;
        if (!double.TryParse(text, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var value)
            || double.IsNaN(value) || value < min || value > max)
        {
            map.Reader.Error(map.Get(key)!, map.PathOf(key), $"'{text}' is not a valid {what} (expected a number {min}-{max})");
            return null;
        }
        return value;
    }
}

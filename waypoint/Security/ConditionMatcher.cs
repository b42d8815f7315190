using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Text.Json;
using Ambient.Authorization;
using Ambient.Config;
using Ambient.Waypoint.Routing;

namespace Ambient.Waypoint.Security;

/// <summary>
/// <c>when[]</c> conditions at L7. A condition matches when its value is present and one of <c>values</c> matches
/// (if set), and none of <c>notValues</c> matches (an absent value matches none, so it passes notValues, as Istio's
/// negated matchers do). List-valued claims and audiences match when any element matches.
/// </summary>
internal static class ConditionMatcher
{
    private const string HeaderPrefix = "request.headers[";
    private const string ClaimPrefix = "request.auth.claims[";

    /// <summary>IP/CIDR condition values parsed once (config values are a bounded set).</summary>
    private static readonly ConcurrentDictionary<string, IPNetwork?> Networks = new(StringComparer.Ordinal);

    /// <summary>Header names of <c>request.headers[name]</c> keys, cut out once per key rather than per request.</summary>
    private static readonly ConcurrentDictionary<string, string> HeaderNames = new(StringComparer.Ordinal);

    public static bool Matches(PolicyCondition c, RequestFacts f, bool deny)
    {
        var key = c.Key;
        switch (key)
        {
            case "source.ip": return MatchIp(c, f.SourceIp);
            case "remote.ip": return MatchIp(c, f.RemoteIp ?? f.SourceIp);
            case "destination.ip": return MatchIp(c, f.DestinationIp);
            case "source.namespace": return MatchString(c, L4Authorizer.Namespace(f.SourceIdentity));
            case "source.principal": return MatchString(c, L4Authorizer.Principal(f.SourceIdentity));
            case "source.serviceAccount": return MatchString(c, ServiceAccount(f.SourceIdentity));
            case "destination.port": return MatchString(c, f.DestinationPort.ToString(CultureInfo.InvariantCulture));
            case "connection.sni": return MatchString(c, f.Sni);
            case "request.auth.principal": return MatchString(c, f.Jwt?.Principal);
            case "request.auth.presenter": return MatchString(c, f.Jwt?.Presenter);
            case "request.auth.audiences": return MatchList(c, f.Jwt is null ? null : f.Jwt.Audiences);
        }
        if (key.StartsWith(HeaderPrefix, StringComparison.Ordinal))
            return MatchString(c, RequestValues.Header(f.Request.Headers, HeaderNames.GetOrAdd(key, static k => k[HeaderPrefix.Length..^1])));
        if (key.StartsWith(ClaimPrefix, StringComparison.Ordinal))
            return MatchClaim(c, f.Jwt, key.AsSpan(ClaimPrefix.Length, key.Length - ClaimPrefix.Length - 1));
        return deny; // not evaluable here: drop in DENY (deny more), never match in ALLOW (allow less)
    }

    /// <summary>Istio's <c>source.serviceAccount</c> is <c>namespace/name</c>.</summary>
    private static string? ServiceAccount(string? spiffe)
    {
        var ns = L4Authorizer.Namespace(spiffe);
        var sa = spiffe?.LastIndexOf("/sa/", StringComparison.Ordinal) ?? -1;
        return ns is null || sa < 0 ? null : $"{ns}/{spiffe![(sa + 4)..]}";
    }

    private static bool MatchString(PolicyCondition c, string? value)
    {
        if (!c.Values.IsEmpty && (value is null || !SourceMatcher.Any(c.Values, value))) return false;
        return value is null || c.NotValues.IsEmpty || !SourceMatcher.Any(c.NotValues, value);
    }

    private static bool MatchList(PolicyCondition c, System.Collections.Immutable.ImmutableArray<string>? values)
    {
        var positive = c.Values.IsEmpty;
        if (values is { } list)
        {
            foreach (var value in list)
            {
                if (!positive && SourceMatcher.Any(c.Values, value)) positive = true;
                if (!c.NotValues.IsEmpty && SourceMatcher.Any(c.NotValues, value)) return false;
            }
        }
        return positive;
    }

    private static bool MatchClaim(PolicyCondition c, JwtIdentity? jwt, ReadOnlySpan<char> name)
    {
        if (jwt is null || jwt.Claims.ValueKind != JsonValueKind.Object || !jwt.Claims.TryGetProperty(name, out var claim))
            return MatchString(c, null);
        if (claim.ValueKind != JsonValueKind.Array) return MatchString(c, ClaimText(claim));
        var positive = c.Values.IsEmpty;
        foreach (var item in claim.EnumerateArray())
        {
            var text = ClaimText(item);
            if (!positive && SourceMatcher.Any(c.Values, text)) positive = true;
            if (!c.NotValues.IsEmpty && SourceMatcher.Any(c.NotValues, text)) return false;
        }
        return positive;
    }

    private static string ClaimText(JsonElement element) =>
        element.ValueKind == JsonValueKind.String ? element.GetString()! : element.GetRawText();

    private static bool MatchIp(PolicyCondition c, IPAddress ip)
    {
        if (ip.IsIPv4MappedToIPv6) ip = ip.MapToIPv4();
        if (!c.Values.IsEmpty && !AnyIp(c.Values, ip)) return false;
        return c.NotValues.IsEmpty || !AnyIp(c.NotValues, ip);
    }

    private static bool AnyIp(System.Collections.Immutable.ImmutableArray<string> values, IPAddress ip)
    {
        foreach (var value in values)
        {
            var network = Networks.GetOrAdd(value, static v => CidrText.TryParse(v, out var n) ? n : null);
            if (network is { } n && n.Contains(ip)) return true;
        }
        return false;
    }
}

using System.Collections.Immutable;
using System.Net;
using Ambient.Authorization;
using Ambient.Config;

namespace Ambient.Waypoint.Security;

/// <summary><c>from[].source</c> at L7: peer identity, addresses and the JWT request principal (<c>iss/sub</c>).</summary>
internal static class SourceMatcher
{
    public static bool Matches(PolicySource s, RequestFacts f)
    {
        var principal = L4Authorizer.Principal(f.SourceIdentity);
        var ns = L4Authorizer.Namespace(f.SourceIdentity);
        var requestPrincipal = f.Jwt?.Principal;
        var remote = f.RemoteIp ?? f.SourceIp;
        return Positive(s.Principals, principal) && Negative(s.NotPrincipals, principal)
            && Positive(s.Namespaces, ns) && Negative(s.NotNamespaces, ns)
            && Positive(s.RequestPrincipals, requestPrincipal) && Negative(s.NotRequestPrincipals, requestPrincipal)
            && (s.IpBlocks.IsEmpty || AnyNetwork(s.IpBlocks, f.SourceIp))
            && (s.NotIpBlocks.IsEmpty || !AnyNetwork(s.NotIpBlocks, f.SourceIp))
            && (s.RemoteIpBlocks.IsEmpty || AnyNetwork(s.RemoteIpBlocks, remote))
            && (s.NotRemoteIpBlocks.IsEmpty || !AnyNetwork(s.NotRemoteIpBlocks, remote));
    }

    /// <summary>Unset, or the value is present and some pattern matches.</summary>
    internal static bool Positive(ImmutableArray<string> patterns, string? value) =>
        patterns.IsEmpty || (value is not null && Any(patterns, value));

    /// <summary>Unset, or no pattern matches (an absent value matches no pattern, so it passes, as in Istio).</summary>
    internal static bool Negative(ImmutableArray<string> patterns, string? value) =>
        patterns.IsEmpty || value is null || !Any(patterns, value);

    internal static bool Any(ImmutableArray<string> patterns, string value)
    {
        foreach (var pattern in patterns)
        {
            if (L4Authorizer.StringMatch(pattern, value)) return true;
        }
        return false;
    }

    internal static bool AnyNetwork(ImmutableArray<IPNetwork> networks, IPAddress ip)
    {
        if (ip.IsIPv4MappedToIPv6) ip = ip.MapToIPv4();
        foreach (var network in networks)
        {
            if (network.Contains(ip)) return true;
        }
        return false;
    }
}

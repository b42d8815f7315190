using System.Collections.Immutable;
using Ambient.Authorization;
using Ambient.Config;

namespace Ambient.Waypoint.Security;

/// <summary><c>to[].operation</c> at L7: hosts, ports, methods and paths of the request.</summary>
internal static class OperationMatcher
{
    public static bool Matches(PolicyOperation o, RequestFacts f)
    {
        var request = f.Request;
        if (!o.Ports.IsEmpty && !o.Ports.Contains(f.DestinationPort)) return false;
        if (!o.NotPorts.IsEmpty && o.NotPorts.Contains(f.DestinationPort)) return false;
        if (!o.Hosts.IsEmpty && !AnyHost(o.Hosts, request.Authority)) return false;
        if (!o.NotHosts.IsEmpty && AnyHost(o.NotHosts, request.Authority)) return false;
        if (!SourceMatcher.Positive(o.Methods, request.Method) || !SourceMatcher.Negative(o.NotMethods, request.Method)) return false;
        if (!SourceMatcher.Positive(o.Paths, request.Path) || !SourceMatcher.Negative(o.NotPaths, request.Path)) return false;
        return true;
    }

    /// <summary>Case-insensitive; a pattern matches the authority as sent or its host without the port.</summary>
    private static bool AnyHost(ImmutableArray<string> patterns, string authority)
    {
        var host = Routing.AuthorityText.HostOf(authority);
        foreach (var pattern in patterns)
        {
            if (HostMatch(pattern, authority) || (host.Length != authority.Length && HostMatch(pattern, host))) return true;
        }
        return false;
    }

    private static bool HostMatch(string pattern, string value)
    {
        if (pattern == "*") return true;
        if (pattern.EndsWith('*')) return value.StartsWith(pattern.AsSpan(0, pattern.Length - 1), StringComparison.OrdinalIgnoreCase);
        if (pattern.StartsWith('*')) return value.EndsWith(pattern.AsSpan(1), StringComparison.OrdinalIgnoreCase);
        return string.Equals(pattern, value, StringComparison.OrdinalIgnoreCase);
    }
}

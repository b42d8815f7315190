using System.Net;
using Ambient.Config;

namespace Ambient.Authorization;

/// <summary>
/// Istio AuthorizationPolicy at L4, as ztunnel applies it: a matching DENY refuses; with no ALLOW policy the
/// connection is allowed; otherwise only a matching ALLOW allows. Fields that only HTTP can see (methods, paths,
/// hosts, request principals, request.* conditions) cannot match at L4: an ALLOW rule using them matches nothing
/// (allow less) and in a DENY rule they are dropped (deny more) — the safe direction both times.
/// Pure functions over the config snapshot.
/// </summary>
public static class L4Authorizer
{
    public static AuthorizationDecision Evaluate(IReadOnlyList<AuthorizationPolicy> policies, ConnectionFacts facts)
    {
        bool anyAllow = false;
        foreach (var policy in policies)
        {
            if (policy.Action == AuthorizationAction.Deny && Matches(policy, facts, deny: true))
                return AuthorizationDecision.Deny($"denied by DENY policy {policy.Key}");
        }
        foreach (var policy in policies)
        {
            if (policy.Action != AuthorizationAction.Allow)
                continue;
            anyAllow = true;
            if (Matches(policy, facts, deny: false))
                return AuthorizationDecision.Allow($"allowed by ALLOW policy {policy.Key}");
        }
        return anyAllow
            ? AuthorizationDecision.Deny("no ALLOW policy matched")
            : AuthorizationDecision.Allow("no ALLOW policy applies");
    }

    /// <summary>
    /// The same decision as <see cref="Evaluate"/>, with every policy consulted and whether it matched, in the order
    /// they are consulted (DENY policies, then ALLOW); for <c>ambientctl explain</c>, not the data path.
    /// </summary>
    public static (AuthorizationDecision Decision, IReadOnlyList<PolicyVerdict> Consulted) Explain(IReadOnlyList<AuthorizationPolicy> policies, ConnectionFacts facts)
    {
        var consulted = new List<PolicyVerdict>();
        foreach (var policy in policies)
        {
            if (policy.Action == AuthorizationAction.Deny)
                consulted.Add(new PolicyVerdict(policy.Key, policy.Action, Matches(policy, facts, deny: true)));
        }
        foreach (var policy in policies)
        {
            if (policy.Action == AuthorizationAction.Allow)
                consulted.Add(new PolicyVerdict(policy.Key, policy.Action, Matches(policy, facts, deny: false)));
        }
        return (Evaluate(policies, facts), consulted);
    }

    private static bool Matches(AuthorizationPolicy policy, ConnectionFacts f, bool deny)
    {
        foreach (var rule in policy.Rules)
            if (RuleMatches(rule, f, deny))
                return true;
        return false;
    }

    private static bool RuleMatches(AuthorizationRule rule, ConnectionFacts f, bool deny)
    {
        if (!rule.From.IsEmpty)
        {
            bool any = false;
            foreach (var source in rule.From)
                if (SourceMatches(source, f, deny)) { any = true; break; }
            if (!any) return false;
        }
        if (!rule.To.IsEmpty)
        {
            bool any = false;
            foreach (var op in rule.To)
                if (OperationMatches(op, f, deny)) { any = true; break; }
            if (!any) return false;
        }
        foreach (var condition in rule.When)
            if (!ConditionMatches(condition, f, deny))
                return false;
        return true;
    }

    private static bool SourceMatches(PolicySource s, ConnectionFacts f, bool deny)
    {
        if (!deny && (!s.RequestPrincipals.IsEmpty || !s.NotRequestPrincipals.IsEmpty))
            return false;
        string? principal = Principal(f.SourceIdentity);
        string? ns = Namespace(f.SourceIdentity);
        if (!s.Principals.IsEmpty && (principal is null || !AnyString(s.Principals, principal))) return false;
        if (!s.NotPrincipals.IsEmpty && principal is not null && AnyString(s.NotPrincipals, principal)) return false;
        if (!s.Namespaces.IsEmpty && (ns is null || !AnyString(s.Namespaces, ns))) return false;
        if (!s.NotNamespaces.IsEmpty && ns is not null && AnyString(s.NotNamespaces, ns)) return false;
        if (!s.IpBlocks.IsEmpty && !AnyNetwork(s.IpBlocks, f.SourceIp)) return false;
        if (!s.NotIpBlocks.IsEmpty && AnyNetwork(s.NotIpBlocks, f.SourceIp)) return false;
        if (!s.RemoteIpBlocks.IsEmpty && !AnyNetwork(s.RemoteIpBlocks, f.SourceIp)) return false;
        if (!s.NotRemoteIpBlocks.IsEmpty && AnyNetwork(s.NotRemoteIpBlocks, f.SourceIp)) return false;
        return true;
    }

    private static bool OperationMatches(PolicyOperation o, ConnectionFacts f, bool deny)
    {
        bool http = !o.Hosts.IsEmpty || !o.NotHosts.IsEmpty || !o.Methods.IsEmpty || !o.NotMethods.IsEmpty || !o.Paths.IsEmpty || !o.NotPaths.IsEmpty;
        if (http && !deny)
            return false;
        if (!o.Ports.IsEmpty && !o.Ports.Contains(f.DestinationPort)) return false;
        if (!o.NotPorts.IsEmpty && o.NotPorts.Contains(f.DestinationPort)) return false;
        return true;
    }

    private static bool ConditionMatches(PolicyCondition c, ConnectionFacts f, bool deny)
    {
        string? value = c.Key switch
        {
            "source.ip" or "remote.ip" => f.SourceIp.ToString(),
            "source.namespace" => Namespace(f.SourceIdentity),
            "source.principal" => Principal(f.SourceIdentity),
            "destination.ip" => f.DestinationIp.ToString(),
            "destination.port" => f.DestinationPort.ToString(System.Globalization.CultureInfo.InvariantCulture),
            _ => null,
        };
        bool known = c.Key is "source.ip" or "remote.ip" or "source.namespace" or "source.principal" or "destination.ip" or "destination.port";
        if (!known)
            return deny; // an HTTP-only condition: dropped in DENY, never matches in ALLOW
        bool isIp = c.Key is "source.ip" or "remote.ip" or "destination.ip";
        var ip = isIp ? (c.Key == "destination.ip" ? f.DestinationIp : f.SourceIp) : null;
        bool Match(string pattern) => isIp && ip is not null && IPNetwork.TryParse(pattern.Contains('/') ? pattern : pattern + (ip.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? "/128" : "/32"), out var net)
            ? net.Contains(ip)
            : value is not null && StringMatch(pattern, value);
        if (!c.Values.IsEmpty)
        {
            bool any = false;
            foreach (var v in c.Values) if (Match(v)) { any = true; break; }
            if (!any) return false;
        }
        foreach (var v in c.NotValues)
            if (Match(v)) return false;
        return true;
    }

    /// <summary>Istio principals drop the scheme: <c>cluster.local/ns/default/sa/sleep</c>.</summary>
    public static string? Principal(string? spiffe)
        => spiffe is not null && spiffe.StartsWith("spiffe://", StringComparison.Ordinal) ? spiffe["spiffe://".Length..] : spiffe;

    public static string? Namespace(string? spiffe)
    {
        if (spiffe is null) return null;
        int i = spiffe.IndexOf("/ns/", StringComparison.Ordinal);
        if (i < 0) return null;
        int start = i + 4, end = spiffe.IndexOf('/', start);
        return end < 0 ? spiffe[start..] : spiffe[start..end];
    }

    /// <summary>Istio string matching: exact, <c>*</c>, <c>prefix*</c> or <c>*suffix</c>.</summary>
    public static bool StringMatch(string pattern, string value)
    {
        if (pattern == "*") return true;
        if (pattern.EndsWith('*')) return value.StartsWith(pattern.AsSpan(0, pattern.Length - 1), StringComparison.Ordinal);
        if (pattern.StartsWith('*')) return value.EndsWith(pattern.AsSpan(1), StringComparison.Ordinal);
        return pattern == value;
    }

    private static bool AnyString(System.Collections.Immutable.ImmutableArray<string> patterns, string value)
    {
        foreach (var p in patterns)
            if (StringMatch(p, value)) return true;
        return false;
    }

    private static bool AnyNetwork(System.Collections.Immutable.ImmutableArray<IPNetwork> networks, IPAddress ip)
    {
        if (ip.IsIPv4MappedToIPv6) ip = ip.MapToIPv4();
        foreach (var n in networks)
            if (n.Contains(ip)) return true;
        return false;
    }
}

using Ambient.Authorization;
using Ambient.Config;

namespace Ambient.Waypoint.Security;

/// <summary>
/// Istio AuthorizationPolicy at L7 (the waypoint sees HTTP): a matching DENY refuses; with no ALLOW policy the
/// request is allowed; otherwise only a matching ALLOW allows. A rule matches when any <c>from</c>, any <c>to</c> and
/// every <c>when</c> match; inside a source/operation every set field must match, and a notX field must not.
/// String fields use Istio's matching (exact, <c>*</c>, <c>prefix*</c>, <c>*suffix</c>); hosts compare
/// case-insensitively, with or without the request's port. Keys the waypoint cannot evaluate
/// (<c>experimental.*</c>) never match in ALLOW and always match in DENY: the safe direction both times.
/// Runs per request: loops over precomputed arrays, no LINQ, no per-request collections.
/// </summary>
public static class L7Authorizer
{
    public static L7AuthorizationVerdict Evaluate(L7PolicySet policies, RequestFacts facts)
    {
        foreach (var policy in policies.Deny)
        {
            if (PolicyMatches(policy, facts, deny: true)) return L7AuthorizationVerdict.Deny(policy.Key, $"denied by DENY policy {policy.Key}");
        }
        foreach (var policy in policies.Allow)
        {
            if (PolicyMatches(policy, facts, deny: false)) return L7AuthorizationVerdict.Allow(policy.Key, $"allowed by ALLOW policy {policy.Key}");
        }
        return policies.Allow.Length == 0
            ? L7AuthorizationVerdict.Allow(null, "no ALLOW policy applies")
            : L7AuthorizationVerdict.Deny(null, "no ALLOW policy matched");
    }

    private static bool PolicyMatches(AuthorizationPolicy policy, RequestFacts facts, bool deny)
    {
        foreach (var rule in policy.Rules)
        {
            if (RuleMatches(rule, facts, deny)) return true;
        }
        return false;
    }

    private static bool RuleMatches(AuthorizationRule rule, RequestFacts facts, bool deny)
    {
        if (!rule.From.IsEmpty)
        {
            var any = false;
            foreach (var source in rule.From)
            {
                if (SourceMatcher.Matches(source, facts)) { any = true; break; }
            }
            if (!any) return false;
        }
        if (!rule.To.IsEmpty)
        {
            var any = false;
            foreach (var operation in rule.To)
            {
                if (OperationMatcher.Matches(operation, facts)) { any = true; break; }
            }
            if (!any) return false;
        }
        foreach (var condition in rule.When)
        {
            if (!ConditionMatcher.Matches(condition, facts, deny)) return false;
        }
        return true;
    }
}

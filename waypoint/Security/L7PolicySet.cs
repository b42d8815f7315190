using Ambient.Config;

namespace Ambient.Waypoint.Security;

/// <summary>
/// The AuthorizationPolicies that apply to one waypoint target, split once per config snapshot into DENY and ALLOW
/// lists (CUSTOM is skipped: Ambient has no external authorizer; AUDIT does not affect the decision), so
/// per-request evaluation only walks what can decide.
/// </summary>
public sealed class L7PolicySet
{
    private L7PolicySet(AuthorizationPolicy[] deny, AuthorizationPolicy[] allow)
    {
        Deny = deny;
        Allow = allow;
    }

    public static L7PolicySet Empty { get; } = new([], []);

    internal AuthorizationPolicy[] Deny { get; }
    internal AuthorizationPolicy[] Allow { get; }

    public static L7PolicySet Build(IEnumerable<AuthorizationPolicy> policies)
    {
        var deny = new List<AuthorizationPolicy>();
        var allow = new List<AuthorizationPolicy>();
        foreach (var policy in policies)
        {
            if (policy.Action == AuthorizationAction.Deny) deny.Add(policy);
            else if (policy.Action == AuthorizationAction.Allow) allow.Add(policy);
        }
        return new L7PolicySet([.. deny], [.. allow]);
    }
}

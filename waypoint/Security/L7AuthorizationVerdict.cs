namespace Ambient.Waypoint.Security;

/// <summary>The decision and, for logs and metrics, the policy that decided (<c>namespace/name</c>; null when no policy matched).</summary>
public readonly record struct L7AuthorizationVerdict(bool Allowed, string? PolicyKey, string Reason)
{
    public static L7AuthorizationVerdict Allow(string? policy, string reason) => new(true, policy, reason);
    public static L7AuthorizationVerdict Deny(string? policy, string reason) => new(false, policy, reason);
}

using System.Net;
using Ambient.Config;

namespace Ambient.Authorization;

/// <summary>What L4 authorization knows about a connection arriving at <see cref="Destination"/>.</summary>
/// <param name="SourceIdentity">The peer's SPIFFE URI from mTLS; null for plaintext.</param>
public sealed record ConnectionFacts(string? SourceIdentity, IPAddress SourceIp, Workload Destination, IPAddress DestinationIp, int DestinationPort);

/// <summary>The verdict and, for logs and counters, the policy that decided it.</summary>
public readonly record struct AuthorizationDecision(bool Allowed, string Reason)
{
    public static AuthorizationDecision Allow(string reason) => new(true, reason);
    public static AuthorizationDecision Deny(string reason) => new(false, reason);
}

/// <summary>One policy consulted for a connection and whether its rules matched it.</summary>
public readonly record struct PolicyVerdict(string Policy, AuthorizationAction Action, bool Matched);

using System.Collections.Immutable;
using System.Text.Json;

namespace Ambient.Waypoint.Security;

/// <summary>
/// A validated JWT: Istio's request principal is <c>iss/sub</c>. <see cref="Claims"/> is the payload (a detached
/// copy), for <c>request.auth.claims[...]</c> conditions and <c>outputClaimToHeaders</c>.
/// </summary>
public sealed record JwtIdentity(string Issuer, string Subject, ImmutableArray<string> Audiences, string? Presenter, JsonElement Claims)
{
    public string Principal => $"{Issuer}/{Subject}";
}

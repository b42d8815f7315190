using System.Collections.Immutable;
using Ambient.Config.Routes;

namespace Ambient.Waypoint.Security;

public enum JwtAuthenticationStatus
{
    /// <summary>No token in any configured location: passes; authorization decides (requestPrincipals).</summary>
    NoToken,
    /// <summary>A token validated against some jwtRule.</summary>
    Valid,
    /// <summary>A token was present but no jwtRule accepted it: answer 401.</summary>
    Invalid,
}

/// <summary>
/// The authentication outcome. For a valid token: the identity (for authorization), the header to strip before
/// forwarding (null when <c>forwardOriginalToken</c> is set or the token came from a query parameter or cookie),
/// and the headers <c>outputPayloadToHeader</c>/<c>outputClaimToHeaders</c> ask for.
/// </summary>
public sealed record JwtAuthenticationResult(
    JwtAuthenticationStatus Status,
    JwtIdentity? Identity = null,
    string? Error = null,
    string? StripHeader = null,
    ImmutableArray<HttpHeaderValue> OutputHeaders = default)
{
    public static JwtAuthenticationResult NoToken { get; } = new(JwtAuthenticationStatus.NoToken);

    /// <summary>401 for <see cref="JwtAuthenticationStatus.Invalid"/>, else null (continue).</summary>
    public int? RejectStatusCode => Status == JwtAuthenticationStatus.Invalid ? 401 : null;
}

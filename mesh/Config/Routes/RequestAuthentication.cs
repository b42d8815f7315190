using System.Collections.Immutable;

namespace Ambient.Config.Routes;

/// <summary>
/// Istio <c>security.istio.io/v1 RequestAuthentication</c>: which JWTs are accepted. A request without a token
/// passes (authorization decides, through <c>requestPrincipals</c>); a request with an invalid token is refused.
/// </summary>
public sealed record RequestAuthentication
{
    public required string Name { get; init; }
    public required string Namespace { get; init; }
    public WorkloadSelector? Selector { get; init; }
    public ImmutableArray<PolicyTargetRef> TargetRefs { get; init; } = [];
    public ImmutableArray<JwtRule> JwtRules { get; init; } = [];

    public string Key => $"{Namespace}/{Name}";
}

/// <summary>
/// <c>jwtRules[]</c>. With no <see cref="FromHeaders"/> and no <see cref="FromParams"/> the token is read from
/// <c>Authorization: Bearer</c> and the <c>access_token</c> query parameter (Istio's defaults).
/// </summary>
public sealed record JwtRule
{
    public required string Issuer { get; init; }
    /// <summary>Empty = any audience.</summary>
    public ImmutableArray<string> Audiences { get; init; } = [];
    public string? JwksUri { get; init; }
    /// <summary>Inline JWKS JSON; wins over <see cref="JwksUri"/>.</summary>
    public string? Jwks { get; init; }
    public ImmutableArray<JwtHeaderLocation> FromHeaders { get; init; } = [];
    public ImmutableArray<string> FromParams { get; init; } = [];
    public ImmutableArray<string> FromCookies { get; init; } = [];
    public bool ForwardOriginalToken { get; init; }
    public string? OutputPayloadToHeader { get; init; }
    public ImmutableArray<ClaimToHeader> OutputClaimToHeaders { get; init; } = [];
    /// <summary>JWKS fetch timeout (<c>timeout</c>); null = default.</summary>
    public TimeSpan? Timeout { get; init; }
}

/// <summary><c>fromHeaders[]</c>: <c>{ name, prefix }</c>, e.g. <c>Authorization</c> with <c>"Bearer "</c>.</summary>
public sealed record JwtHeaderLocation(string Name, string Prefix);

public sealed record ClaimToHeader(string Header, string Claim);

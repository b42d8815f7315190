using System.Collections.Immutable;
using System.Text.Json;
using Ambient.Config.Routes;
using Ambient.Waypoint.Routing;

namespace Ambient.Waypoint.Security;

/// <summary>
/// RequestAuthentication at the waypoint, with Istio's semantics: every jwtRule of every applicable policy is a
/// provider; a request with no token anywhere passes (authorization decides); a token that some rule accepts gives
/// the request principal <c>iss/sub</c>; a token that no rule accepts (bad signature, expired, unknown issuer,
/// wrong audience, keys unavailable) is 401. Built once per config snapshot; inline JWKS are parsed at build time,
/// remote ones come from the shared <see cref="JwksCache"/>.
/// </summary>
public sealed class JwtAuthenticator
{
    private readonly Provider[] _providers;
    private readonly JwksCache? _cache;
    private readonly TimeProvider _clock;

    private JwtAuthenticator(Provider[] providers, JwksCache? cache, TimeProvider clock)
    {
        _providers = providers;
        _cache = cache;
        _clock = clock;
    }

    public static JwtAuthenticator Empty { get; } = new([], null, TimeProvider.System);

    /// <summary>False when no jwtRule applies: every request is <see cref="JwtAuthenticationStatus.NoToken"/>.</summary>
    public bool HasRules => _providers.Length > 0;

    /// <param name="errors">Rules left out (an inline JWKS that does not parse); their tokens are then rejected.</param>
    public static JwtAuthenticator Build(IEnumerable<RequestAuthentication> policies, JwksCache? cache, TimeProvider? clock, out ImmutableArray<string> errors)
    {
        var providers = new List<Provider>();
        var problems = ImmutableArray.CreateBuilder<string>();
        foreach (var policy in policies)
        {
            foreach (var rule in policy.JwtRules)
            {
                JsonWebKeySet? inline = null;
                if (rule.Jwks is not null)
                {
                    inline = JsonWebKeySet.TryParse(rule.Jwks, out var error);
                    if (inline is null) problems.Add($"RequestAuthentication {policy.Key} issuer {rule.Issuer}: {error}");
                }
                providers.Add(new Provider(rule, new JwtTokenLocator(rule), inline));
            }
        }
        errors = problems.ToImmutable();
        return new JwtAuthenticator([.. providers], cache, clock ?? TimeProvider.System);
    }

    public async ValueTask<JwtAuthenticationResult> AuthenticateAsync(HttpRequestHead request, CancellationToken cancellationToken = default)
    {
        var sawToken = false;
        string? lastError = null;
        string? parsedText = null;
        JwtToken? parsed = null;
        foreach (var provider in _providers)
        {
            var text = provider.Locator.Find(request, out var header);
            if (text is null) continue;
            sawToken = true;
            if (!ReferenceEquals(text, parsedText) && text != parsedText)
            {
                parsedText = text;
                parsed = JwtToken.TryParse(text, out var parseError);
                if (parsed is null) lastError = parseError;
            }
            if (parsed is null) continue;
            // Pick the provider by issuer before any key lookup, as Envoy does: no JWKS fetch for a foreign token.
            if (parsed.Issuer != provider.Rule.Issuer)
            {
                lastError ??= $"token issuer '{parsed.Issuer}' is not accepted";
                continue;
            }
            var keys = provider.InlineKeys;
            if (keys is null && provider.Rule.Jwks is null && provider.Rule.JwksUri is { } uri && _cache is not null)
                keys = await _cache.GetAsync(uri, provider.Rule.Timeout, cancellationToken).ConfigureAwait(false);
            if (keys is null)
            {
                lastError = $"keys for issuer '{provider.Rule.Issuer}' are not available";
                continue;
            }
            var identity = JwtValidator.Validate(parsed, provider.Rule, keys, _clock.GetUtcNow(), out var error);
            if (identity is null)
            {
                lastError = error;
                continue;
            }
            return new JwtAuthenticationResult(JwtAuthenticationStatus.Valid, identity,
                StripHeader: provider.Rule.ForwardOriginalToken ? null : header,
                OutputHeaders: OutputHeaders(provider.Rule, parsed, identity));
        }
        return sawToken ? new JwtAuthenticationResult(JwtAuthenticationStatus.Invalid, Error: lastError ?? "token is not valid") : JwtAuthenticationResult.NoToken;
    }

    private static ImmutableArray<HttpHeaderValue> OutputHeaders(JwtRule rule, JwtToken token, JwtIdentity identity)
    {
        if (rule.OutputPayloadToHeader is null && rule.OutputClaimToHeaders.IsEmpty) return [];
        var builder = ImmutableArray.CreateBuilder<HttpHeaderValue>();
        if (rule.OutputPayloadToHeader is { } payloadHeader)
        {
            // The payload segment as sent: base64url JSON, which is what Istio forwards.
            var input = System.Text.Encoding.ASCII.GetString(token.SigningInput);
            builder.Add(new HttpHeaderValue(payloadHeader, input[(input.IndexOf('.') + 1)..]));
        }
        foreach (var claim in rule.OutputClaimToHeaders)
        {
            if (!identity.Claims.TryGetProperty(claim.Claim, out var value)) continue;
            var text = value.ValueKind switch
            {
                JsonValueKind.String => value.GetString()!,
                JsonValueKind.Number or JsonValueKind.True or JsonValueKind.False => value.GetRawText(),
                _ => null, // Istio forwards only scalar claims
            };
            if (text is not null && RouteFieldRulesText.IsSafeHeaderValue(text)) builder.Add(new HttpHeaderValue(claim.Header, text));
        }
        return builder.ToImmutable();
    }

    private sealed record Provider(JwtRule Rule, JwtTokenLocator Locator, JsonWebKeySet? InlineKeys);
}

/// <summary>A claim copied into a header must not smuggle CR/LF into the request.</summary>
internal static class RouteFieldRulesText
{
    public static bool IsSafeHeaderValue(string text)
    {
        foreach (var c in text)
        {
            if (c is '\r' or '\n' or '\0') return false;
        }
        return true;
    }
}

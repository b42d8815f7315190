using System.Collections.Immutable;
using System.Text.Json;
using Ambient.Config.Routes;

namespace Ambient.Waypoint.Security;

/// <summary>
/// Checks a parsed token against one jwtRule and its keys: algorithm, signature (by <c>kid</c> when the token names
/// one, else every fitting key), issuer, audiences, and <c>exp</c>/<c>nbf</c> with clock skew (60 s, Envoy's
/// default). Returns the identity or an error message (never throws).
/// </summary>
public static class JwtValidator
{
    public static readonly TimeSpan ClockSkew = TimeSpan.FromSeconds(60);

    public static JwtIdentity? Validate(JwtToken token, JwtRule rule, JsonWebKeySet keys, DateTimeOffset now, out string? error)
    {
        error = null;
        if (!JwtSignature.IsSupported(token.Algorithm))
        {
            error = $"token algorithm '{token.Algorithm}' is not supported";
            return null;
        }
        if (!SignatureValid(token, keys))
        {
            error = "token signature does not verify with the issuer's keys";
            return null;
        }
        var issuer = token.Issuer;
        if (issuer != rule.Issuer)
        {
            error = $"token issuer '{issuer}' is not '{rule.Issuer}'";
            return null;
        }
        if (!TimeValid(token.Payload, now, out error)) return null;
        var audiences = Audiences(token.Payload);
        if (!rule.Audiences.IsEmpty && !AnyAudience(rule.Audiences, audiences))
        {
            error = "token audience is not allowed";
            return null;
        }
        return new JwtIdentity(issuer, token.Subject ?? "", audiences, token.StringClaim("azp"), token.Payload);
    }

    private static bool SignatureValid(JwtToken token, JsonWebKeySet keys)
    {
        foreach (var key in keys.Keys)
        {
            if (token.KeyId is not null && key.KeyId is not null && key.KeyId != token.KeyId) continue;
            if (JwtSignature.Verify(key, token.Algorithm, token.SigningInput, token.Signature)) return true;
        }
        return false;
    }

    private static bool TimeValid(JsonElement payload, DateTimeOffset now, out string? error)
    {
        error = null;
        var seconds = now.ToUnixTimeSeconds();
        if (NumericDate(payload, "exp", out var exp, ref error) && seconds > exp + (long)ClockSkew.TotalSeconds)
            error = "token has expired";
        else if (error is null && NumericDate(payload, "nbf", out var nbf, ref error) && seconds < nbf - (long)ClockSkew.TotalSeconds)
            error = "token is not yet valid";
        return error is null;
    }

    /// <summary>Reads a NumericDate claim; a present but non-numeric value is an error.</summary>
    private static bool NumericDate(JsonElement payload, string name, out long value, ref string? error)
    {
        value = 0;
        if (!payload.TryGetProperty(name, out var element)) return false;
        if (element.ValueKind == JsonValueKind.Number && element.TryGetDouble(out var number) && !double.IsNaN(number))
        {
            value = (long)Math.Clamp(number, long.MinValue / 2, long.MaxValue / 2);
            return true;
        }
        error = $"token claim '{name}' is not a number";
        return false;
    }

    private static ImmutableArray<string> Audiences(JsonElement payload)
    {
        if (!payload.TryGetProperty("aud", out var aud)) return [];
        if (aud.ValueKind == JsonValueKind.String) return [aud.GetString()!];
        if (aud.ValueKind != JsonValueKind.Array) return [];
        var builder = ImmutableArray.CreateBuilder<string>();
        foreach (var item in aud.EnumerateArray())
        {
            if (item.ValueKind == JsonValueKind.String) builder.Add(item.GetString()!);
        }
        return builder.ToImmutable();
    }

    private static bool AnyAudience(ImmutableArray<string> allowed, ImmutableArray<string> actual)
    {
        foreach (var a in actual)
        {
            foreach (var b in allowed)
            {
                if (a == b) return true;
            }
        }
        return false;
    }
}

using System.Buffers.Text;
using System.Collections.Immutable;
using System.Security.Cryptography;
using System.Text.Json;

namespace Ambient.Waypoint.Security;

/// <summary>One verification key of a JWKS: RSA (<c>n</c>, <c>e</c>) or EC (<c>crv</c>, <c>x</c>, <c>y</c>), built once.</summary>
public sealed record JsonWebKey(string? KeyId, string? Algorithm, RSA? Rsa, ECDsa? Ecdsa);

/// <summary>
/// A JSON Web Key Set (RFC 7517). Keys are turned into crypto objects when the set is parsed, not per request.
/// Keys of other types (<c>oct</c>, <c>OKP</c>) and encryption keys (<c>use: enc</c>) are skipped; a malformed RSA
/// or EC key is an error, so a broken JWKS is noticed rather than silently rejecting every token.
/// </summary>
public sealed class JsonWebKeySet
{
    private JsonWebKeySet(ImmutableArray<JsonWebKey> keys) => Keys = keys;

    public ImmutableArray<JsonWebKey> Keys { get; }

    public static JsonWebKeySet? TryParse(string json, out string? error)
    {
        error = null;
        try
        {
            using var document = JsonDocument.Parse(json);
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("keys", out var keys) || keys.ValueKind != JsonValueKind.Array)
            {
                error = "JWKS must be a JSON object with a 'keys' list";
                return null;
            }
            var builder = ImmutableArray.CreateBuilder<JsonWebKey>();
            var index = 0;
            foreach (var key in keys.EnumerateArray())
            {
                var parsed = ParseKey(key, out var keyError);
                if (keyError is not null)
                {
                    error = $"keys[{index}]: {keyError}";
                    return null;
                }
                if (parsed is not null) builder.Add(parsed);
                index++;
            }
            return new JsonWebKeySet(builder.ToImmutable());
        }
        catch (JsonException e)
        {
            error = $"JWKS is not valid JSON: {e.Message}";
            return null;
        }
    }

    private static JsonWebKey? ParseKey(JsonElement key, out string? error)
    {
        error = null;
        if (key.ValueKind != JsonValueKind.Object)
        {
            error = "a key must be a JSON object";
            return null;
        }
        var kty = Text(key, "kty");
        var kid = Text(key, "kid");
        var alg = Text(key, "alg");
        if (Text(key, "use") is { } use && use != "sig") return null;
        try
        {
            switch (kty)
            {
                case "RSA":
                {
                    var n = Bytes(key, "n");
                    var e = Bytes(key, "e");
                    if (n is null || e is null)
                    {
                        error = "RSA key needs base64url 'n' and 'e'";
                        return null;
                    }
                    if (n.Length < 256)
                    {
                        error = $"RSA key is {n.Length * 8} bits; at least 2048 are required";
                        return null;
                    }
                    var rsa = RSA.Create();
                    rsa.ImportParameters(new RSAParameters { Modulus = n, Exponent = e });
                    return new JsonWebKey(kid, alg, rsa, null);
                }
                case "EC":
                {
                    ECCurve? curve = Text(key, "crv") switch
                    {
                        "P-256" => ECCurve.NamedCurves.nistP256,
                        "P-384" => ECCurve.NamedCurves.nistP384,
                        "P-521" => ECCurve.NamedCurves.nistP521,
                        _ => null,
                    };
                    var x = Bytes(key, "x");
                    var y = Bytes(key, "y");
                    if (curve is null || x is null || y is null)
                    {
                        error = "EC key needs 'crv' (P-256, P-384 or P-521) and base64url 'x' and 'y'";
                        return null;
                    }
                    var ecdsa = ECDsa.Create(new ECParameters { Curve = curve.Value, Q = new ECPoint { X = x, Y = y } });
                    return new JsonWebKey(kid, alg, null, ecdsa);
                }
                default:
                    return null;
            }
        }
        catch (CryptographicException e)
        {
            error = $"invalid {kty} key: {e.Message}";
            return null;
        }
    }

    private static string? Text(JsonElement key, string name) =>
        key.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    private static byte[]? Bytes(JsonElement key, string name)
    {
        if (Text(key, name) is not { Length: > 0 } text) return null;
        try
        {
            return Base64Url.DecodeFromChars(text);
        }
        catch (FormatException)
        {
            return null;
        }
    }
}

using System.Buffers.Text;
using System.Text;
using System.Text.Json;

namespace Ambient.Waypoint.Security;

/// <summary>
/// A compact JWS (<c>header.payload.signature</c>), decoded but not yet verified. Parsing never throws: a malformed
/// token yields an error message, which the authenticator turns into a 401.
/// </summary>
public sealed class JwtToken
{
    /// <summary>Tokens larger than this are refused before any decoding (Envoy's header limits are similar).</summary>
    public const int MaxLength = 16 * 1024;

    private JwtToken(string algorithm, string? keyId, JsonElement payload, byte[] signingInput, byte[] signature)
    {
        Algorithm = algorithm;
        KeyId = keyId;
        Payload = payload;
        SigningInput = signingInput;
        Signature = signature;
    }

    public string Algorithm { get; }
    public string? KeyId { get; }
    /// <summary>The claims object (detached from the parser's buffers).</summary>
    public JsonElement Payload { get; }
    /// <summary>ASCII <c>header.payload</c>, the bytes the signature covers.</summary>
    public byte[] SigningInput { get; }
    public byte[] Signature { get; }

    public string? Issuer => StringClaim("iss");
    public string? Subject => StringClaim("sub");

    public string? StringClaim(string name) =>
        Payload.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    public static JwtToken? TryParse(string compact, out string? error)
    {
        error = null;
        if (compact.Length > MaxLength)
        {
            error = "token is too large";
            return null;
        }
        var first = compact.IndexOf('.');
        var second = first < 0 ? -1 : compact.IndexOf('.', first + 1);
        if (first <= 0 || second < 0 || compact.IndexOf('.', second + 1) >= 0)
        {
            error = "token is not a compact JWS (header.payload.signature)";
            return null;
        }
        var header = Decode(compact.AsSpan(0, first));
        var payload = Decode(compact.AsSpan(first + 1, second - first - 1));
        var signature = Decode(compact.AsSpan(second + 1));
        if (header is null || payload is null || signature is null)
        {
            error = "token is not valid base64url";
            return null;
        }
        try
        {
            using var headerJson = JsonDocument.Parse(header);
            var root = headerJson.RootElement;
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("alg", out var alg) || alg.ValueKind != JsonValueKind.String)
            {
                error = "token header has no 'alg'";
                return null;
            }
            string? kid = root.TryGetProperty("kid", out var k) && k.ValueKind == JsonValueKind.String ? k.GetString() : null;
            using var payloadJson = JsonDocument.Parse(payload);
            if (payloadJson.RootElement.ValueKind != JsonValueKind.Object)
            {
                error = "token payload is not a JSON object";
                return null;
            }
            return new JwtToken(alg.GetString()!, kid, payloadJson.RootElement.Clone(),
                Encoding.ASCII.GetBytes(compact, 0, second), signature);
        }
        catch (JsonException)
        {
            error = "token header or payload is not valid JSON";
            return null;
        }
    }

    private static byte[]? Decode(ReadOnlySpan<char> text)
    {
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

using System.Security.Cryptography;

namespace Ambient.Waypoint.Security;

/// <summary>
/// JWS signature verification with the platform's crypto: RS256/384/512 (PKCS#1 v1.5), PS256/384/512 (PSS) and
/// ES256/384/512 (ECDSA, signature as the fixed-length r‖s of RFC 7518). <c>none</c> and HMAC are refused: a
/// RequestAuthentication names public keys only.
/// </summary>
public static class JwtSignature
{
    public static bool IsSupported(string algorithm) => Hash(algorithm) is not null;

    /// <summary>True when <paramref name="key"/> fits <paramref name="algorithm"/> (type, and the key's own <c>alg</c> if it has one).</summary>
    public static bool KeyFits(JsonWebKey key, string algorithm)
    {
        if (key.Algorithm is not null && key.Algorithm != algorithm) return false;
        return algorithm[0] == 'E' ? key.Ecdsa is not null && CurveFits(key.Ecdsa, algorithm) : key.Rsa is not null;
    }

    public static bool Verify(JsonWebKey key, string algorithm, byte[] input, byte[] signature)
    {
        if (Hash(algorithm) is not { } hash || !KeyFits(key, algorithm)) return false;
        try
        {
            return algorithm[0] switch
            {
                'R' => key.Rsa!.VerifyData(input, signature, hash, RSASignaturePadding.Pkcs1),
                'P' => key.Rsa!.VerifyData(input, signature, hash, RSASignaturePadding.Pss),
                _ => key.Ecdsa!.VerifyData(input, signature, hash, DSASignatureFormat.IeeeP1363FixedFieldConcatenation),
            };
        }
        catch (CryptographicException)
        {
            return false;
        }
    }

    private static HashAlgorithmName? Hash(string algorithm) => algorithm switch
    {
        "RS256" or "PS256" or "ES256" => HashAlgorithmName.SHA256,
        "RS384" or "PS384" or "ES384" => HashAlgorithmName.SHA384,
        "RS512" or "PS512" or "ES512" => HashAlgorithmName.SHA512,
        _ => null,
    };

    /// <summary>RFC 7518: ES256 is P-256, ES384 is P-384, ES512 is P-521.</summary>
    private static bool CurveFits(ECDsa key, string algorithm) => (algorithm, key.KeySize) switch
    {
        ("ES256", 256) or ("ES384", 384) or ("ES512", 521) => true,
        _ => false,
    };
}

using System.Diagnostics.CodeAnalysis;
using System.Security.Cryptography.X509Certificates;

namespace Ambient.Identity;

/// <summary>
/// A workload identity of the shape <c>spiffe://&lt;trust-domain&gt;/ns/&lt;namespace&gt;/sa/&lt;serviceaccount&gt;</c>.
/// Instances are always valid: the constructor and <see cref="TryParse"/> enforce the same rules
/// (trust domain: lower-case letters, digits, '.', '-', '_'; path segments: letters, digits, '.', '-', '_',
/// not "." or ".."). Equality is ordinal on the three parts; <see cref="ToString"/> is the URI.
/// </summary>
public sealed record SpiffeId
{
    public const string Scheme = "spiffe";
    private const string Prefix = "spiffe://";
    private const int MaxLength = 2048;
    private const int MaxTrustDomainLength = 255;

    private readonly string _uri;

    public SpiffeId(string trustDomain, string @namespace, string serviceAccount)
    {
        if (!IsValidTrustDomain(trustDomain, out var error)
            || !IsValidSegment(@namespace, "namespace", out error)
            || !IsValidSegment(serviceAccount, "service account", out error))
        {
            throw new ArgumentException(error);
        }

        TrustDomain = trustDomain;
        Namespace = @namespace;
        ServiceAccount = serviceAccount;
        // Computed eagerly: it is a pure function of the three parts, so record equality is unaffected.
        _uri = $"{Prefix}{trustDomain}/ns/{@namespace}/sa/{serviceAccount}";
        if (_uri.Length > MaxLength)
        {
            throw new ArgumentException($"SPIFFE ID is longer than {MaxLength} characters");
        }
    }

    public string TrustDomain { get; }

    public string Namespace { get; }

    public string ServiceAccount { get; }

    public void Deconstruct(out string trustDomain, out string @namespace, out string serviceAccount)
    {
        trustDomain = TrustDomain;
        @namespace = Namespace;
        serviceAccount = ServiceAccount;
    }

    /// <summary>The URI form, e.g. <c>spiffe://cluster.local/ns/default/sa/web</c>.</summary>
    public override string ToString() => _uri;

    public Uri ToUri() => new(_uri, UriKind.Absolute);

    /// <summary>Parses exactly <c>spiffe://td/ns/X/sa/Y</c>; <paramref name="error"/> says what is wrong otherwise.</summary>
    public static bool TryParse(
        [NotNullWhen(true)] string? text,
        [NotNullWhen(true)] out SpiffeId? id,
        [NotNullWhen(false)] out string? error)
    {
        id = null;
        if (string.IsNullOrEmpty(text))
        {
            error = "SPIFFE ID is empty";
            return false;
        }

        if (text.Length > MaxLength)
        {
            error = $"SPIFFE ID is longer than {MaxLength} characters";
            return false;
        }

        if (!text.StartsWith(Prefix, StringComparison.Ordinal))
        {
            error = $"'{text}' is not a SPIFFE ID: it must start with {Prefix}";
            return false;
        }

        var rest = text.AsSpan(Prefix.Length);
        int slash = rest.IndexOf('/');
        var trustDomain = (slash < 0 ? rest : rest[..slash]).ToString();
        if (!IsValidTrustDomain(trustDomain, out error))
        {
            error = $"'{text}' is not a valid SPIFFE ID: {error}";
            return false;
        }

        var path = slash < 0 ? ReadOnlySpan<char>.Empty : rest[slash..];
        // Expect exactly "/ns/<ns>/sa/<sa>".
        Span<Range> parts = stackalloc Range[6];
        int count = path.Split(parts, '/');
        if (count != 5 || path.Length == 0
            || !path[parts[0]].IsEmpty
            || !path[parts[1]].SequenceEqual("ns")
            || !path[parts[3]].SequenceEqual("sa"))
        {
            error = $"'{text}' is not a valid SPIFFE ID: the path must be /ns/<namespace>/sa/<serviceaccount>";
            return false;
        }

        var ns = path[parts[2]].ToString();
        var sa = path[parts[4]].ToString();
        if (!IsValidSegment(ns, "namespace", out error) || !IsValidSegment(sa, "service account", out error))
        {
            error = $"'{text}' is not a valid SPIFFE ID: {error}";
            return false;
        }

        id = new SpiffeId(trustDomain, ns, sa);
        return true;
    }

    /// <summary>Parses like <see cref="TryParse"/>, throwing <see cref="FormatException"/> with the reason.</summary>
    public static SpiffeId Parse(string text) =>
        TryParse(text, out var id, out var error) ? id : throw new FormatException(error);

    /// <summary>
    /// The SPIFFE ID carried by <paramref name="certificate"/>'s single URI SAN, or null when the
    /// certificate has none, several, or a URI that is not a valid mesh SPIFFE ID.
    /// </summary>
    public static SpiffeId? FromCertificate(X509Certificate2 certificate) =>
        TryFromCertificate(certificate, out var id, out _) ? id : null;

    /// <summary>Like <see cref="FromCertificate"/>, with the reason when there is no usable SPIFFE ID.</summary>
    public static bool TryFromCertificate(
        X509Certificate2 certificate,
        [NotNullWhen(true)] out SpiffeId? id,
        [NotNullWhen(false)] out string? error)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        id = null;
        List<string> uris;
        try
        {
            uris = CertificateUris.Read(certificate);
        }
        catch (Exception ex) when (ex is System.Formats.Asn1.AsnContentException or System.Security.Cryptography.CryptographicException)
        {
            error = $"certificate subjectAltName extension is malformed: {ex.Message}";
            return false;
        }

        switch (uris.Count)
        {
            case 0:
                error = "certificate has no URI subjectAltName (SPIFFE ID)";
                return false;
            case > 1:
                error = $"certificate has {uris.Count} URI subjectAltNames; a mesh certificate carries exactly one";
                return false;
        }

        return TryParse(uris[0], out id, out error);
    }

    /// <summary>Checks a trust domain name: 1-255 characters of a-z, 0-9, '.', '-', '_'.</summary>
    public static bool IsValidTrustDomain([NotNullWhen(true)] string? trustDomain, [NotNullWhen(false)] out string? error)
    {
        if (string.IsNullOrEmpty(trustDomain))
        {
            error = "trust domain is empty";
            return false;
        }

        if (trustDomain.Length > MaxTrustDomainLength)
        {
            error = $"trust domain is longer than {MaxTrustDomainLength} characters";
            return false;
        }

        foreach (char c in trustDomain)
        {
            if (!(c is >= 'a' and <= 'z' or >= '0' and <= '9' or '.' or '-' or '_'))
            {
                error = $"trust domain '{trustDomain}' contains '{c}' (allowed: a-z 0-9 . - _)";
                return false;
            }
        }

        error = null;
        return true;
    }

    private static bool IsValidSegment(string? segment, string what, [NotNullWhen(false)] out string? error)
    {
        if (string.IsNullOrEmpty(segment))
        {
            error = $"{what} is empty";
            return false;
        }

        if (segment is "." or "..")
        {
            error = $"{what} may not be '{segment}'";
            return false;
        }

        foreach (char c in segment)
        {
            if (!(c is >= 'a' and <= 'z' or >= 'A' and <= 'Z' or >= '0' and <= '9' or '.' or '-' or '_'))
            {
                error = $"{what} '{segment}' contains '{c}' (allowed: letters, digits, . - _)";
                return false;
            }
        }

        error = null;
        return true;
    }
}

namespace Ambient.Config;

/// <summary>Kubernetes name rules (RFC 1123 / RFC 1035 labels and subdomains, label keys/values) and SPIFFE trust domains.</summary>
internal static class DnsNames
{
    public const string LabelRule = "must be a lowercase RFC 1123 label: at most 63 characters of a-z, 0-9 and '-', starting and ending with a letter or digit";
    public const string Rfc1035Rule = "must be a lowercase RFC 1035 label: at most 63 characters of a-z, 0-9 and '-', starting with a letter and ending with a letter or digit";
    public const string SubdomainRule = "must be a lowercase RFC 1123 subdomain: at most 253 characters of dot-separated labels of a-z, 0-9 and '-', each starting and ending with a letter or digit";
    public const string TrustDomainRule = "must be a SPIFFE trust domain: lowercase letters, digits, '.', '-' and '_'";

    /// <summary>RFC 1123 label (Kubernetes namespace names).</summary>
    public static bool IsLabel(string s) => s.Length is > 0 and <= 63 && IsLabelChars(s);

    /// <summary>RFC 1035 label (Kubernetes Service names): also starts with a letter.</summary>
    public static bool IsRfc1035Label(string s) => IsLabel(s) && char.IsAsciiLetterLower(s[0]);

    /// <summary>RFC 1123 subdomain (most Kubernetes object names, service accounts, hostnames).</summary>
    public static bool IsSubdomain(string s)
    {
        if (s.Length is 0 or > 253) return false;
        foreach (var part in s.Split('.'))
        {
            if (!IsLabel(part)) return false;
        }
        return true;
    }

    public static bool IsTrustDomain(string s)
    {
        if (s.Length is 0 or > 255) return false;
        foreach (var c in s)
        {
            if (!(char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c is '.' or '-' or '_')) return false;
        }
        return true;
    }

    /// <summary>Kubernetes label key: optional <c>prefix/</c> (subdomain) + name (≤63, alphanumeric ends, <c>-_.</c> inside).</summary>
    public static bool IsLabelKey(string s)
    {
        var slash = s.IndexOf('/');
        if (slash >= 0)
        {
            if (!IsSubdomain(s[..slash])) return false;
            s = s[(slash + 1)..];
        }
        return s.Length is > 0 and <= 63 && IsQualifiedNameChars(s);
    }

    /// <summary>Kubernetes label value: empty, or ≤63 alphanumeric-ended with <c>-_.</c> inside.</summary>
    public static bool IsLabelValue(string s) => s.Length == 0 || (s.Length <= 63 && IsQualifiedNameChars(s));

    private static bool IsLabelChars(string s)
    {
        if (!IsLowerAlnum(s[0]) || !IsLowerAlnum(s[^1])) return false;
        foreach (var c in s)
        {
            if (!(IsLowerAlnum(c) || c == '-')) return false;
        }
        return true;
    }

    private static bool IsQualifiedNameChars(string s)
    {
        if (!char.IsAsciiLetterOrDigit(s[0]) || !char.IsAsciiLetterOrDigit(s[^1])) return false;
        foreach (var c in s)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.')) return false;
        }
        return true;
    }

    private static bool IsLowerAlnum(char c) => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c);
}

using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Ambient.Identity;

namespace Ambient.Tests.Identity;

public sealed class SpiffeIdTests
{
    [Fact]
    public void Parses_and_formats_the_mesh_shape()
    {
        Assert.True(SpiffeId.TryParse("spiffe://cluster.local/ns/default/sa/web-Frontend_1.v2", out var id, out var error));
        Assert.Null(error);
        Assert.Equal(new SpiffeId("cluster.local", "default", "web-Frontend_1.v2"), id);
        Assert.Equal("spiffe://cluster.local/ns/default/sa/web-Frontend_1.v2", id.ToString());
        var (td, ns, sa) = id;
        Assert.Equal(("cluster.local", "default", "web-Frontend_1.v2"), (td, ns, sa));
        Assert.Equal(id, SpiffeId.Parse(id.ToString()));
        Assert.Equal(id.GetHashCode(), SpiffeId.Parse(id.ToString()).GetHashCode());
    }

    [Theory]
    [InlineData("", "empty")]
    [InlineData("https://cluster.local/ns/a/sa/b", "must start with spiffe://")]
    [InlineData("SPIFFE://cluster.local/ns/a/sa/b", "must start with spiffe://")]
    [InlineData("spiffe:///ns/a/sa/b", "trust domain is empty")]
    [InlineData("spiffe://Cluster.local/ns/a/sa/b", "contains 'C'")]
    [InlineData("spiffe://cluster.local:8080/ns/a/sa/b", "contains ':'")]
    [InlineData("spiffe://user@cluster.local/ns/a/sa/b", "contains '@'")]
    [InlineData("spiffe://cluster.local", "path must be /ns/<namespace>/sa/<serviceaccount>")]
    [InlineData("spiffe://cluster.local/", "path must be")]
    [InlineData("spiffe://cluster.local/ns/a", "path must be")]
    [InlineData("spiffe://cluster.local/ns/a/sa/b/", "path must be")]
    [InlineData("spiffe://cluster.local/ns/a/sa/b/c", "path must be")]
    [InlineData("spiffe://cluster.local/namespace/a/sa/b", "path must be")]
    [InlineData("spiffe://cluster.local/ns//sa/b", "namespace is empty")]
    [InlineData("spiffe://cluster.local/ns/a/sa/", "service account is empty")]
    [InlineData("spiffe://cluster.local/ns/../sa/b", "namespace may not be '..'")]
    [InlineData("spiffe://cluster.local/ns/a/sa/b?x=1", "contains '?'")]
    [InlineData("spiffe://cluster.local/ns/a/sa/b#frag", "contains '#'")]
    [InlineData("spiffe://cluster.local/ns/a%2Fb/sa/c", "contains '%'")]
    public void Rejects_malformed_ids_with_a_reason(string text, string expectedError)
    {
        Assert.False(SpiffeId.TryParse(text, out var id, out var error));
        Assert.Null(id);
        Assert.Contains(expectedError, error);
        Assert.Throws<FormatException>(() => SpiffeId.Parse(text));
    }

    [Fact]
    public void Constructor_validates_parts()
    {
        Assert.Throws<ArgumentException>(() => new SpiffeId("Bad Domain", "a", "b"));
        Assert.Throws<ArgumentException>(() => new SpiffeId("td", "a/b", "c"));
        Assert.Throws<ArgumentException>(() => new SpiffeId("td", "a", ""));
    }

    [Fact]
    public void Reads_the_single_uri_san_of_a_certificate()
    {
        using var cert = SelfSigned("spiffe://cluster.local/ns/a/sa/b");
        Assert.Equal(new SpiffeId("cluster.local", "a", "b"), SpiffeId.FromCertificate(cert));
    }

    [Fact]
    public void Certificate_without_exactly_one_valid_spiffe_uri_has_no_identity()
    {
        using var none = SelfSigned();
        Assert.Null(SpiffeId.FromCertificate(none));
        Assert.False(SpiffeId.TryFromCertificate(none, out _, out var error));
        Assert.Contains("no URI subjectAltName", error);

        using var two = SelfSigned("spiffe://cluster.local/ns/a/sa/b", "spiffe://cluster.local/ns/c/sa/d");
        Assert.False(SpiffeId.TryFromCertificate(two, out _, out error));
        Assert.Contains("2 URI subjectAltNames", error);

        using var web = SelfSigned("https://example.com/");
        Assert.False(SpiffeId.TryFromCertificate(web, out _, out error));
        Assert.Contains("must start with spiffe://", error);
    }

    private static X509Certificate2 SelfSigned(params string[] uris)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=test", key, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        san.AddDnsName("example.com"); // non-URI entries are skipped
        foreach (var uri in uris)
        {
            san.AddUri(new Uri(uri));
        }

        request.CertificateExtensions.Add(san.Build());
        return request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-1), DateTimeOffset.UtcNow.AddHours(1));
    }
}

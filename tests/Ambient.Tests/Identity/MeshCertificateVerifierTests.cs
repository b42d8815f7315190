using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Ambient.Identity;

namespace Ambient.Tests.Identity;

/// <summary>The verification rules without sockets (the TLS tests cover the same rules end to end).</summary>
public sealed class MeshCertificateVerifierTests : IDisposable
{
    private static readonly SpiffeId Id = new("cluster.local", "default", "web");
    private readonly MeshCa _ca = MeshCa.Create();

    public void Dispose() => _ca.Dispose();

    [Fact]
    public void Accepts_a_mesh_certificate_in_both_roles()
    {
        var cert = Issue(DateTimeOffset.UtcNow.AddMinutes(-1), DateTimeOffset.UtcNow.AddHours(1));

        var asServer = MeshCertificateVerifier.VerifyServer(cert.Certificate, _ca.RootCertificate, [Id]);
        var asClient = MeshCertificateVerifier.VerifyClient(cert.Certificate, _ca.RootCertificate, "cluster.local");

        Assert.True(asServer.IsVerified);
        Assert.Equal(Id, asServer.PeerIdentity);
        Assert.True(asClient.IsVerified);
        Assert.Equal("verified spiffe://cluster.local/ns/default/sa/web", asClient.ToString());
    }

    [Fact]
    public void Missing_certificates_are_refused()
    {
        Assert.Equal("server presented no certificate",
            MeshCertificateVerifier.VerifyServer(null, _ca.RootCertificate, [Id]).FailureReason);
        Assert.Equal("client presented no certificate",
            MeshCertificateVerifier.VerifyClient(null, _ca.RootCertificate, "cluster.local").FailureReason);
    }

    [Fact]
    public void Not_yet_valid_certificate_is_refused()
    {
        var cert = Issue(DateTimeOffset.UtcNow.AddHours(1), DateTimeOffset.UtcNow.AddHours(2));

        var result = MeshCertificateVerifier.VerifyClient(cert.Certificate, _ca.RootCertificate, "cluster.local");

        Assert.StartsWith("certificate not yet valid", result.FailureReason);
    }

    [Fact]
    public void Certificate_without_spiffe_id_is_refused()
    {
        // The root itself chains (to itself) but names no workload.
        var result = MeshCertificateVerifier.VerifyClient(_ca.RootCertificate, _ca.RootCertificate, "cluster.local");

        Assert.StartsWith("client certificate has no usable SPIFFE ID", result.FailureReason);
    }

    [Fact]
    public void Extended_key_usage_must_fit_the_role()
    {
        // A CA of our own so the leaf can carry serverAuth only.
        using var rootKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var rootRequest = new CertificateRequest("CN=Test Root", rootKey, HashAlgorithmName.SHA256);
        rootRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        using var root = rootRequest.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-1), DateTimeOffset.UtcNow.AddDays(1));
        using var leafKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var leafRequest = new CertificateRequest("CN=leaf", leafKey, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        san.AddUri(Id.ToUri());
        leafRequest.CertificateExtensions.Add(san.Build());
        leafRequest.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
        using var leaf = leafRequest.Create(root, DateTimeOffset.UtcNow.AddMinutes(-1), DateTimeOffset.UtcNow.AddHours(1), [1, 2, 3, 4]);

        Assert.True(MeshCertificateVerifier.VerifyServer(leaf, root, [Id]).IsVerified);
        Assert.Equal("certificate not valid for client authentication (extended key usage)",
            MeshCertificateVerifier.VerifyClient(leaf, root, "cluster.local").FailureReason);
    }

    private WorkloadCertificate Issue(DateTimeOffset notBefore, DateTimeOffset notAfter) => _ca.Issue(Id, notBefore, notAfter);
}

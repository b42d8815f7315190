using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Ambient.Identity;
using Microsoft.Extensions.Logging;

namespace Ambient.Tests.Identity;

public sealed class MeshCaTests : IDisposable
{
    private static readonly SpiffeId Id = new("cluster.local", "default", "web");
    private readonly string _dir = Directory.CreateTempSubdirectory("ambient-ca-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Root_is_created_in_the_state_dir_then_reloaded_identically()
    {
        var log = new ListLogger();
        var state = Path.Combine(_dir, "state"); // does not exist yet
        byte[] firstRoot;
        WorkloadCertificate issuedByFirst;
        using (var first = MeshCa.LoadOrCreate(state, log))
        {
            firstRoot = first.RootCertificate.RawData;
            issuedByFirst = first.Issue(Id, DateTimeOffset.UtcNow.AddMinutes(-1), DateTimeOffset.UtcNow.AddHours(1));
        }

        var certPath = Path.Combine(state, MeshCa.CertificateFileName);
        var keyPath = Path.Combine(state, MeshCa.KeyFileName);
        Assert.True(File.Exists(certPath));
        Assert.True(File.Exists(keyPath));
        Assert.Empty(Directory.GetFiles(state, "*.tmp-*"));
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(keyPath));
            Assert.Equal(UnixFileMode.None, File.GetUnixFileMode(state) & (UnixFileMode.GroupRead | UnixFileMode.OtherRead));
        }

        Assert.StartsWith("-----BEGIN PRIVATE KEY-----", File.ReadAllText(keyPath));

        using var second = MeshCa.LoadOrCreate(state, log);
        Assert.Equal(firstRoot, second.RootCertificate.RawData);
        // The reloaded key is the same key: what it signs chains to the first root and vice versa.
        using var firstRootCert = X509CertificateLoader.LoadCertificate(firstRoot);
        var issuedBySecond = second.Issue(Id, DateTimeOffset.UtcNow.AddMinutes(-1), DateTimeOffset.UtcNow.AddHours(1));
        Assert.True(MeshCertificateVerifier.VerifyClient(issuedBySecond.Certificate, firstRootCert, "cluster.local").IsVerified);
        Assert.True(MeshCertificateVerifier.VerifyClient(issuedByFirst.Certificate, second.RootCertificate, "cluster.local").IsVerified);

        var infos = log.MessagesAt(LogLevel.Information).ToList();
        Assert.StartsWith("Generated new mesh root CA", infos[0]);
        Assert.StartsWith("Loaded mesh root CA", infos[1]);
    }

    [Fact]
    public void Root_has_the_designed_shape()
    {
        using var ca = MeshCa.Create();
        var root = ca.RootCertificate;
        Assert.Equal("CN=Ambient Mesh Root CA", root.Subject);
        Assert.Equal(root.Subject, root.Issuer);
        Assert.False(root.HasPrivateKey);
        var constraints = Assert.IsType<X509BasicConstraintsExtension>(root.Extensions["2.5.29.19"]);
        Assert.True(constraints.CertificateAuthority);
        Assert.True(constraints.Critical);
        var usage = Assert.IsType<X509KeyUsageExtension>(root.Extensions["2.5.29.15"]);
        Assert.Equal(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, usage.KeyUsages);
        using var publicKey = root.GetECDsaPublicKey();
        Assert.Equal(256, publicKey!.KeySize);
        var years = (root.NotAfter - root.NotBefore).TotalDays / 365.25;
        Assert.InRange(years, 9.99, 10.01);
        Assert.Equal(root.RawData, X509Certificate2.CreateFromPem(ca.ExportPem()).RawData);
    }

    [Fact]
    public async Task Workload_certificate_has_the_designed_shape()
    {
        var start = new DateTimeOffset(2031, 5, 6, 7, 8, 9, TimeSpan.Zero);
        var time = new ManualTimeProvider(start);
        using var ca = MeshCa.Create(time);
        var issuer = new LocalCaIssuer(ca, "cluster.local", time: time);
        var cert = await issuer.IssueAsync(Id, CancellationToken.None);
        var other = await issuer.IssueAsync(Id, CancellationToken.None);
        var x = cert.Certificate;

        Assert.Equal(Id, cert.Identity);
        Assert.True(x.HasPrivateKey);
        Assert.Equal(start.AddMinutes(-1), cert.NotBefore);
        Assert.Equal(start.AddHours(24), cert.NotAfter);
        Assert.Equal(ca.RootCertificate.SubjectName.RawData, x.IssuerName.RawData);

        var sanExtensions = x.Extensions.Where(e => e.Oid!.Value == "2.5.29.17").ToList();
        var san = Assert.Single(sanExtensions);
        Assert.True(san.Critical); // the subject is empty
        Assert.Empty(Assert.IsType<X509SubjectAlternativeNameExtension>(san).EnumerateDnsNames());
        Assert.Equal(Id, SpiffeId.FromCertificate(x));

        var usage = Assert.IsType<X509KeyUsageExtension>(x.Extensions["2.5.29.15"]);
        Assert.Equal(X509KeyUsageFlags.DigitalSignature, usage.KeyUsages);
        var eku = Assert.IsType<X509EnhancedKeyUsageExtension>(x.Extensions["2.5.29.37"]);
        Assert.Equal(["1.3.6.1.5.5.7.3.1", "1.3.6.1.5.5.7.3.2"], eku.EnhancedKeyUsages.Cast<Oid>().Select(o => o.Value));
        Assert.False(Assert.IsType<X509BasicConstraintsExtension>(x.Extensions["2.5.29.19"]).CertificateAuthority);
        using var key = x.GetECDsaPublicKey();
        Assert.Equal(256, key!.KeySize);

        // 128 random bits, unsigned: 16 bytes, or 17 with a 0x00 sign byte.
        var serial = x.SerialNumberBytes.ToArray();
        Assert.InRange(serial.Length, 16, 17);
        Assert.NotEqual(cert.SerialNumber, other.SerialNumber);

        Assert.True(MeshCertificateVerifier.VerifyServer(x, ca.RootCertificate, [Id], time: start).IsVerified);
    }

    [Fact]
    public void Workload_certificate_exports_pem_for_interop_tools()
    {
        using var ca = MeshCa.Create();
        var cert = ca.Issue(Id, DateTimeOffset.UtcNow.AddMinutes(-1), DateTimeOffset.UtcNow.AddHours(1));

        var certPem = cert.ExportCertificatePem();
        var keyPem = cert.ExportPrivateKeyPem();
        Assert.StartsWith("-----BEGIN CERTIFICATE-----", certPem);
        Assert.StartsWith("-----BEGIN PRIVATE KEY-----", keyPem); // PKCS#8
        using var reloaded = X509Certificate2.CreateFromPem(certPem, keyPem);
        Assert.Equal(cert.Certificate.RawData, reloaded.RawData);
        Assert.True(reloaded.HasPrivateKey);
    }

    [Fact]
    public async Task Local_issuer_refuses_foreign_trust_domains()
    {
        using var ca = MeshCa.Create();
        var issuer = new LocalCaIssuer(ca, "cluster.local");
        var ex = await Assert.ThrowsAsync<InvalidOperationException>(() =>
            issuer.IssueAsync(new SpiffeId("other.org", "a", "b"), CancellationToken.None));
        Assert.Contains("other.org", ex.Message);
    }

    [Fact]
    public void Missing_files_are_named()
    {
        var cert = Path.Combine(_dir, "nope-cert.pem");
        var key = Path.Combine(_dir, "nope-key.pem");
        var ex = Assert.Throws<MeshCaException>(() => MeshCa.Load(cert, key));
        Assert.Equal(cert, ex.FilePath);
        Assert.Contains(cert, ex.Message);
        Assert.Contains("does not exist", ex.Message);

        using var ca = MeshCa.Create();
        File.WriteAllText(cert, ca.ExportPem());
        ex = Assert.Throws<MeshCaException>(() => MeshCa.Load(cert, key));
        Assert.Equal(key, ex.FilePath);
        Assert.Contains(key, ex.Message);
    }

    [Fact]
    public void Unparseable_files_are_named()
    {
        using var ca = MeshCa.Create();
        var (certPath, keyPath) = SaveCa(ca);
        var garbage = Path.Combine(_dir, "garbage.pem");
        File.WriteAllText(garbage, "this is not PEM\n");

        var ex = Assert.Throws<MeshCaException>(() => MeshCa.Load(garbage, keyPath));
        Assert.Equal(garbage, ex.FilePath);
        Assert.Contains(garbage, ex.Message);

        ex = Assert.Throws<MeshCaException>(() => MeshCa.Load(certPath, garbage));
        Assert.Equal(garbage, ex.FilePath);
        Assert.Contains(garbage, ex.Message);
    }

    [Fact]
    public void Non_ca_certificate_is_refused()
    {
        using var ca = MeshCa.Create();
        var leaf = ca.Issue(Id, DateTimeOffset.UtcNow.AddMinutes(-1), DateTimeOffset.UtcNow.AddHours(1));
        var certPath = Path.Combine(_dir, "leaf-cert.pem");
        var keyPath = Path.Combine(_dir, "leaf-key.pem");
        File.WriteAllText(certPath, leaf.ExportCertificatePem());
        File.WriteAllText(keyPath, leaf.ExportPrivateKeyPem());

        var ex = Assert.Throws<MeshCaException>(() => MeshCa.Load(certPath, keyPath));
        Assert.Equal(certPath, ex.FilePath);
        Assert.Contains("not a CA certificate", ex.Message);
    }

    [Fact]
    public void Key_that_does_not_match_is_refused()
    {
        using var ca = MeshCa.Create();
        using var other = MeshCa.Create();
        var (certPath, _) = SaveCa(ca, "a");
        var (_, otherKey) = SaveCa(other, "b");

        var ex = Assert.Throws<MeshCaException>(() => MeshCa.Load(certPath, otherKey));
        Assert.Equal(otherKey, ex.FilePath);
        Assert.Contains("does not match", ex.Message);
    }

    [Fact]
    public void Expired_root_is_refused()
    {
        var past = new ManualTimeProvider(DateTimeOffset.UtcNow.AddYears(-2));
        using var ca = MeshCa.Create(past, lifetime: TimeSpan.FromDays(365));
        var (certPath, keyPath) = SaveCa(ca);

        var ex = Assert.Throws<MeshCaException>(() => MeshCa.Load(certPath, keyPath));
        Assert.Equal(certPath, ex.FilePath);
        Assert.Contains("expired", ex.Message);
    }

    [Fact]
    public void Half_written_state_dir_is_an_error_not_a_new_root()
    {
        using var ca = MeshCa.Create();
        var (certPath, keyPath) = SaveCa(ca);
        File.Delete(keyPath);

        var ex = Assert.Throws<MeshCaException>(() => MeshCa.LoadOrCreate(_dir));
        Assert.Equal(keyPath, ex.FilePath);
        Assert.Contains(certPath, ex.Message);
        Assert.False(File.Exists(keyPath));
    }

    [Fact]
    public void Sec1_ec_private_key_files_are_accepted()
    {
        // Roots made with `openssl ecparam -genkey` come as "EC PRIVATE KEY".
        using var ca = MeshCa.Create();
        var (certPath, keyPath) = SaveCa(ca);
        using (var key = ECDsa.Create())
        {
            key.ImportFromPem(File.ReadAllText(keyPath));
            File.WriteAllText(keyPath, key.ExportECPrivateKeyPem());
        }

        using var loaded = MeshCa.Load(certPath, keyPath);
        Assert.Equal(ca.RootCertificate.RawData, loaded.RootCertificate.RawData);
    }

    /// <summary>Saves under the state-dir names, or as &lt;prefix&gt;-cert.pem / &lt;prefix&gt;-key.pem.</summary>
    private (string Cert, string Key) SaveCa(MeshCa ca, string? prefix = null)
    {
        var certPath = Path.Combine(_dir, prefix is null ? MeshCa.CertificateFileName : $"{prefix}-cert.pem");
        var keyPath = Path.Combine(_dir, prefix is null ? MeshCa.KeyFileName : $"{prefix}-key.pem");
        ca.Save(certPath, keyPath);
        return (certPath, keyPath);
    }
}

using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Ambient.Harness.Configs;

/// <summary>
/// A throw-away CA and two leaf certificates for the HAProxy mutual-TLS pair, made like Ambient's workload
/// certificates (ECDSA P-256, short-lived) so both tunnels do the same public-key work per handshake.
/// Written as PEM files in the form HAProxy reads: certificate followed by its private key.
/// </summary>
public sealed record TlsFiles(string CaPath, string ClientPemPath, string ServerPemPath, string ServerName)
{
    public static TlsFiles Create(string directory, string serverName)
    {
        Directory.CreateDirectory(directory);
        using var caKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var caRequest = new CertificateRequest("CN=ambient-perf CA", caKey, HashAlgorithmName.SHA256);
        caRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        caRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        var now = DateTimeOffset.UtcNow;
        using var ca = caRequest.CreateSelfSigned(now.AddMinutes(-5), now.AddDays(1));

        var files = new TlsFiles(Path.Combine(directory, "ca.pem"), Path.Combine(directory, "client.pem"), Path.Combine(directory, "server.pem"), serverName);
        File.WriteAllText(files.CaPath, ca.ExportCertificatePem() + "\n");
        File.WriteAllText(files.ClientPemPath, Leaf(ca, "client", serverName: null));
        File.WriteAllText(files.ServerPemPath, Leaf(ca, "server", serverName));
        return files;
    }

    private static string Leaf(X509Certificate2 ca, string commonName, string? serverName)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={commonName}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        var usage = new OidCollection { new Oid(serverName is null ? "1.3.6.1.5.5.7.3.2" : "1.3.6.1.5.5.7.3.1") }; // client / server auth
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension(usage, false));
        if (serverName is not null)
        {
            var san = new SubjectAlternativeNameBuilder();
            san.AddDnsName(serverName);
            request.CertificateExtensions.Add(san.Build());
        }
        var serial = RandomNumberGenerator.GetBytes(16);
        serial[0] &= 0x7f; // a positive serial number
        var now = DateTimeOffset.UtcNow;
        using var cert = request.Create(ca, now.AddMinutes(-5), now.AddDays(1), serial);
        return cert.ExportCertificatePem() + "\n" + key.ExportPkcs8PrivateKeyPem() + "\n";
    }
}

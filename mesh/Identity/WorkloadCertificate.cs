using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;

namespace Ambient.Identity;

/// <summary>
/// A workload's X.509 SVID: a certificate (with its private key) whose single URI SAN is
/// <see cref="Identity"/>, plus any intermediates between it and the mesh root (none for the
/// local CA). Immutable; a renewal produces a new instance. Not disposable on purpose: in-flight
/// handshakes may still hold <see cref="CertificateContext"/> when the manager replaces it.
/// </summary>
public sealed class WorkloadCertificate
{
    private readonly X509Certificate2Collection _intermediates;
    private readonly X509Certificate2[] _intermediateList;
    private SslStreamCertificateContext? _context;

    /// <param name="certificate">Leaf certificate; must carry its private key and exactly one SPIFFE URI SAN.</param>
    /// <param name="intermediates">CA certificates between the leaf and the mesh root, leaf-side first; not the root.</param>
    public WorkloadCertificate(X509Certificate2 certificate, IEnumerable<X509Certificate2>? intermediates = null)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        if (!certificate.HasPrivateKey)
        {
            throw new ArgumentException("workload certificate has no private key", nameof(certificate));
        }

        if (!SpiffeId.TryFromCertificate(certificate, out var id, out var error))
        {
            throw new ArgumentException($"workload certificate has no usable SPIFFE ID: {error}", nameof(certificate));
        }

        Certificate = certificate;
        Identity = id;
        _intermediateList = [.. intermediates ?? []];
        _intermediates = [.. _intermediateList];
        NotBefore = new DateTimeOffset(certificate.NotBefore.ToUniversalTime());
        NotAfter = new DateTimeOffset(certificate.NotAfter.ToUniversalTime());
    }

    public SpiffeId Identity { get; }

    /// <summary>The leaf certificate, with private key.</summary>
    public X509Certificate2 Certificate { get; }

    /// <summary>Intermediate CA certificates sent after the leaf (empty for the local CA).</summary>
    public IReadOnlyList<X509Certificate2> Intermediates => _intermediateList;

    /// <summary>Serial number as upper-case hex (as <see cref="X509Certificate2.SerialNumber"/>).</summary>
    public string SerialNumber => Certificate.SerialNumber;

    public DateTimeOffset NotBefore { get; }

    public DateTimeOffset NotAfter { get; }

    /// <summary>Half-way through the validity window: when the manager replaces this certificate.</summary>
    public DateTimeOffset RenewalTime => NotBefore + ((NotAfter - NotBefore) / 2);

    public bool IsValidAt(DateTimeOffset time) => time >= NotBefore && time < NotAfter;

    /// <summary>
    /// The certificate and chain prepared for <see cref="SslStream"/> (created once, on first use,
    /// with <c>offline: true</c> so no AIA fetching ever happens on the handshake path).
    /// </summary>
    public SslStreamCertificateContext CertificateContext
    {
        get
        {
            var context = Volatile.Read(ref _context);
            if (context is null)
            {
                var created = SslStreamCertificateContext.Create(Certificate, _intermediates, offline: true);
                context = Interlocked.CompareExchange(ref _context, created, null) ?? created;
            }

            return context;
        }
    }

    /// <summary>PEM of the leaf followed by the intermediates: a "cert chain" file for nghttpx, Node.js, curl.</summary>
    public string ExportCertificatePem()
    {
        var pem = new StringBuilder(Certificate.ExportCertificatePem()).Append('\n');
        foreach (var intermediate in _intermediateList)
        {
            pem.Append(intermediate.ExportCertificatePem()).Append('\n');
        }

        return pem.ToString();
    }

    /// <summary>The private key as unencrypted PKCS#8 PEM ("BEGIN PRIVATE KEY").</summary>
    public string ExportPrivateKeyPem()
    {
        using AsymmetricAlgorithm key = (AsymmetricAlgorithm?)Certificate.GetECDsaPrivateKey()
            ?? Certificate.GetRSAPrivateKey()
            ?? throw new NotSupportedException("workload certificate key is neither ECDSA nor RSA");
        return key.ExportPkcs8PrivateKeyPem() + "\n";
    }

    public override string ToString() =>
        $"{Identity} (serial {SerialNumber}, valid {NotBefore:u} to {NotAfter:u})";
}

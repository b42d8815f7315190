using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Ambient.Identity;

/// <summary>
/// The mesh root certificate authority: a CA certificate and its private key, used in-process to
/// sign workload certificates. Either generated on first start into a state directory
/// (<see cref="LoadOrCreate"/>), loaded from user-given PEM files (<see cref="Load"/>), or created in
/// memory (<see cref="Create"/>, for tests and tools).
/// </summary>
public sealed class MeshCa : IDisposable
{
    public const string CertificateFileName = "root-cert.pem";
    public const string KeyFileName = "root-key.pem";
    public const string DefaultSubject = "CN=Ambient Mesh Root CA";
    public static readonly TimeSpan DefaultRootLifetime = TimeSpan.FromDays(3652);
    public static readonly TimeSpan ClockSkewAllowance = TimeSpan.FromMinutes(1);

    private static readonly Oid ServerAuthOid = new("1.3.6.1.5.5.7.3.1");
    private static readonly Oid ClientAuthOid = new("1.3.6.1.5.5.7.3.2");

    private readonly AsymmetricAlgorithm _key;
    private readonly X509SignatureGenerator _signer;
    private readonly X509AuthorityKeyIdentifierExtension? _authorityKeyId;
    private readonly Lock _signLock = new();

    private MeshCa(X509Certificate2 root, AsymmetricAlgorithm key)
    {
        // Keep only the public certificate; the key is held (and used) separately.
        RootCertificate = root.HasPrivateKey ? X509CertificateLoader.LoadCertificate(root.RawData) : root;
        _key = key;
        _signer = key switch
        {
            ECDsa ecdsa => X509SignatureGenerator.CreateForECDsa(ecdsa),
            RSA rsa => X509SignatureGenerator.CreateForRSA(rsa, RSASignaturePadding.Pkcs1),
            _ => throw new NotSupportedException($"unsupported CA key type {key.GetType().Name}"),
        };
        if (RootCertificate.Extensions[SubjectKeyIdentifierOid] is X509SubjectKeyIdentifierExtension)
        {
            _authorityKeyId = X509AuthorityKeyIdentifierExtension.CreateFromCertificate(
                RootCertificate, includeKeyIdentifier: true, includeIssuerAndSerial: false);
        }
    }

    private const string SubjectKeyIdentifierOid = "2.5.29.14";

    /// <summary>The root CA certificate (public part only): the trust anchor every mesh peer verifies against.</summary>
    public X509Certificate2 RootCertificate { get; }

    /// <summary>Creates a new self-signed root in memory: ECDSA P-256, CA, keyCertSign|cRLSign, 10 years.</summary>
    public static MeshCa Create(TimeProvider? time = null, string subject = DefaultSubject, TimeSpan? lifetime = null)
    {
        var now = (time ?? TimeProvider.System).GetUtcNow();
        var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        try
        {
            var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256);
            request.CertificateExtensions.Add(new X509BasicConstraintsExtension(
                certificateAuthority: true, hasPathLengthConstraint: false, pathLengthConstraint: 0, critical: true));
            request.CertificateExtensions.Add(new X509KeyUsageExtension(
                X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, critical: true));
            request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, critical: false));
            using var root = request.CreateSelfSigned(now - ClockSkewAllowance, now + (lifetime ?? DefaultRootLifetime));
            return new MeshCa(X509CertificateLoader.LoadCertificate(root.RawData), key);
        }
        catch
        {
            key.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Loads <c>root-cert.pem</c> + <c>root-key.pem</c> from <paramref name="stateDirectory"/>, or, when
    /// neither exists, generates a new root there (key file mode 0600, written atomically).
    /// Exactly one of the two files existing is an error rather than a silent regeneration, since a
    /// new root would no longer be trusted by peers holding the old one.
    /// </summary>
    public static MeshCa LoadOrCreate(string stateDirectory, ILogger? log = null, TimeProvider? time = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(stateDirectory);
        log ??= NullLogger.Instance;
        var certPath = Path.Combine(stateDirectory, CertificateFileName);
        var keyPath = Path.Combine(stateDirectory, KeyFileName);
        bool certExists = File.Exists(certPath);
        bool keyExists = File.Exists(keyPath);

        if (certExists && keyExists)
        {
            var loaded = Load(certPath, keyPath, time);
            IdentityLog.RootLoaded(log, certPath, loaded.RootCertificate.Subject,
                loaded.RootCertificate.GetCertHashString(HashAlgorithmName.SHA256), loaded.NotAfter);
            return loaded;
        }

        if (certExists != keyExists)
        {
            var (present, missing) = certExists ? (certPath, keyPath) : (keyPath, certPath);
            throw new MeshCaException(
                $"mesh CA state is incomplete: {present} exists but {missing} does not; restore the missing file, or delete {present} to generate a new root CA",
                missing);
        }

        var ca = Create(time);
        try
        {
            ca.Save(certPath, keyPath);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            ca.Dispose();
            throw new MeshCaException($"cannot write the mesh root CA to {stateDirectory}: {ex.Message}", stateDirectory, ex);
        }

        IdentityLog.RootCreated(log, certPath, ca.RootCertificate.Subject,
            ca.RootCertificate.GetCertHashString(HashAlgorithmName.SHA256), ca.NotAfter);
        return ca;
    }

    /// <summary>
    /// Loads a root CA from PEM files. The certificate must be a CA (basicConstraints), allowed to sign
    /// certificates if it has keyUsage, unexpired, and the key (PKCS#8, SEC1 "EC PRIVATE KEY" or PKCS#1
    /// "RSA PRIVATE KEY"; unencrypted) must match it. Errors are <see cref="MeshCaException"/>s naming the file.
    /// </summary>
    public static MeshCa Load(string certificatePath, string keyPath, TimeProvider? time = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(certificatePath);
        ArgumentException.ThrowIfNullOrEmpty(keyPath);
        var root = LoadRootCertificate(certificatePath);
        var now = (time ?? TimeProvider.System).GetUtcNow();
        if (now >= new DateTimeOffset(root.NotAfter.ToUniversalTime()))
        {
            throw new MeshCaException(
                $"mesh root certificate {certificatePath} expired on {root.NotAfter.ToUniversalTime():u}", certificatePath);
        }

        var key = LoadPrivateKey(keyPath, root);
        return new MeshCa(root, key);
    }

    public DateTimeOffset NotAfter => new(RootCertificate.NotAfter.ToUniversalTime());

    /// <summary>The root certificate as PEM (what peers and interop tools use as their CA file).</summary>
    public string ExportPem() => RootCertificate.ExportCertificatePem() + "\n";

    /// <summary>
    /// Issues a workload certificate for <paramref name="identity"/> with the exact validity window
    /// given (clamped to the root's own expiry): a fresh ECDSA P-256 key, one critical URI SAN,
    /// keyUsage digitalSignature, EKU serverAuth+clientAuth, a random 128-bit serial. Lifetime policy
    /// (backdating, 24 h) belongs to the caller, normally <see cref="LocalCaIssuer"/>.
    /// </summary>
    public WorkloadCertificate Issue(SpiffeId identity, DateTimeOffset notBefore, DateTimeOffset notAfter)
    {
        ArgumentNullException.ThrowIfNull(identity);
        if (notAfter > NotAfter)
        {
            notAfter = NotAfter;
        }

        if (notAfter <= notBefore)
        {
            throw new ArgumentException($"empty validity window {notBefore:u} .. {notAfter:u}");
        }

        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        // RFC 5280 §4.2.1.6: with an empty subject the SAN extension must be critical.
        var request = new CertificateRequest(new X500DistinguishedName(""), key, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        san.AddUri(identity.ToUri());
        request.CertificateExtensions.Add(san.Build(critical: true));
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, critical: true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, critical: true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([ServerAuthOid, ClientAuthOid], critical: false));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, critical: false));
        if (_authorityKeyId is not null)
        {
            request.CertificateExtensions.Add(_authorityKeyId);
        }

        // 128 random bits; CertificateRequest reads the bytes as an unsigned big-endian integer.
        Span<byte> serial = stackalloc byte[16];
        RandomNumberGenerator.Fill(serial);
        if (serial[0] == 0)
        {
            serial[0] = 1; // keep the encoded length stable
        }

        X509Certificate2 publicOnly;
        lock (_signLock)
        {
            publicOnly = request.Create(RootCertificate.SubjectName, _signer, notBefore, notAfter, serial);
        }

        using (publicOnly)
        {
            // On Linux the OpenSSL-backed SslStream accepts a CopyWithPrivateKey certificate directly
            // (verified by the loopback TLS tests). Windows SChannel cannot use such ephemeral keys,
            // hence the PKCS#12 round trip there.
            var withKey = publicOnly.CopyWithPrivateKey(key);
            if (!OperatingSystem.IsLinux())
            {
                var ephemeral = withKey;
                withKey = X509CertificateLoader.LoadPkcs12(ephemeral.Export(X509ContentType.Pkcs12), password: null);
                ephemeral.Dispose();
            }

            return new WorkloadCertificate(withKey);
        }
    }

    public void Dispose() => _key.Dispose();

    /// <summary>Writes the root certificate and key (key mode 0600), each via a temporary file and rename.</summary>
    internal void Save(string certificatePath, string keyPath)
    {
        var directory = Path.GetDirectoryName(Path.GetFullPath(certificatePath))!;
        if (!Directory.Exists(directory))
        {
            if (OperatingSystem.IsWindows())
            {
                Directory.CreateDirectory(directory);
            }
            else
            {
                Directory.CreateDirectory(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            }
        }

        // Key first: a crash in between leaves "key without cert", which LoadOrCreate reports clearly.
        WriteAtomically(keyPath, _key.ExportPkcs8PrivateKeyPem() + "\n", UnixFileMode.UserRead | UnixFileMode.UserWrite);
        WriteAtomically(certificatePath, ExportPem(),
            UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
    }

    private static void WriteAtomically(string path, string contents, UnixFileMode mode)
    {
        var temp = path + ".tmp-" + Environment.ProcessId;
        var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write, Share = FileShare.None };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = mode; // set at creation: the key is never readable by others, even briefly
            File.Delete(temp);             // UnixCreateMode only applies to newly created files
        }

        try
        {
            using (var stream = new FileStream(temp, options))
            using (var writer = new StreamWriter(stream))
            {
                writer.Write(contents);
                writer.Flush();
                stream.Flush(flushToDisk: true);
            }

            File.Move(temp, path, overwrite: false);
        }
        catch
        {
            File.Delete(temp);
            throw;
        }
    }

    private static X509Certificate2 LoadRootCertificate(string path)
    {
        string pem = ReadFile(path, "mesh root certificate");
        X509Certificate2 root;
        try
        {
            root = X509Certificate2.CreateFromPem(pem);
        }
        catch (CryptographicException ex)
        {
            throw new MeshCaException($"mesh root certificate file {path} does not contain a PEM certificate: {ex.Message}", path, ex);
        }

        if (root.Extensions["2.5.29.19"] is not X509BasicConstraintsExtension { CertificateAuthority: true })
        {
            throw new MeshCaException(
                $"certificate in {path} ({root.Subject}) is not a CA certificate (basicConstraints CA is not set)", path);
        }

        if (root.Extensions["2.5.29.15"] is X509KeyUsageExtension usage
            && (usage.KeyUsages & X509KeyUsageFlags.KeyCertSign) == 0)
        {
            throw new MeshCaException(
                $"certificate in {path} ({root.Subject}) may not sign certificates (keyUsage lacks keyCertSign)", path);
        }

        return root;
    }

    private static AsymmetricAlgorithm LoadPrivateKey(string path, X509Certificate2 root)
    {
        string pem = ReadFile(path, "mesh root key");
        AsymmetricAlgorithm key = root.GetKeyAlgorithm() switch
        {
            "1.2.840.10045.2.1" => ECDsa.Create(),
            "1.2.840.113549.1.1.1" => RSA.Create(),
            var other => throw new MeshCaException(
                $"mesh root certificate has an unsupported key algorithm {other}; use ECDSA or RSA", path),
        };

        try
        {
            key.ImportFromPem(pem);
        }
        catch (Exception ex) when (ex is ArgumentException or CryptographicException)
        {
            key.Dispose();
            throw new MeshCaException(
                $"mesh root key file {path} does not contain a usable unencrypted {(key is ECDsa ? "EC" : "RSA")} private key in PEM form: {ex.Message}",
                path, ex);
        }

        if (!root.PublicKey.ExportSubjectPublicKeyInfo().AsSpan().SequenceEqual(key.ExportSubjectPublicKeyInfo()))
        {
            key.Dispose();
            throw new MeshCaException($"private key in {path} does not match the mesh root certificate", path);
        }

        return key;
    }

    private static string ReadFile(string path, string what)
    {
        try
        {
            return File.ReadAllText(path);
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new MeshCaException($"{what} file {path} does not exist", path, ex);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new MeshCaException($"cannot read {what} file {path}: {ex.Message}", path, ex);
        }
    }
}

using Ambient.Identity;

namespace Ambient.Tests.Interop;

/// <summary>A mesh CA for one test, issuing workload certificates and writing them as PEM files for external programs.</summary>
public sealed class InteropPki : IDisposable
{
    public const string TrustDomain = "cluster.local";

    private readonly TempDirectory _files;

    public InteropPki(TempDirectory files, string subject = MeshCa.DefaultSubject)
    {
        _files = files;
        Ca = MeshCa.Create(subject: subject);
        RootPemPath = files.Write(Tag(subject) + "-root.pem", Ca.ExportPem());
    }

    public MeshCa Ca { get; }

    /// <summary>The root certificate as a PEM file (CA bundle for nghttpx and Node).</summary>
    public string RootPemPath { get; }

    public static SpiffeId Id(string ns, string sa) => new(TrustDomain, ns, sa);

    /// <summary>A certificate valid from a minute ago for an hour.</summary>
    public WorkloadCertificate Issue(SpiffeId id)
    {
        var now = DateTimeOffset.UtcNow;
        return Ca.Issue(id, now - TimeSpan.FromMinutes(1), now + TimeSpan.FromHours(1));
    }

    /// <summary>Issues a certificate and writes its chain and key as PEM files.</summary>
    public PemFiles IssueFiles(SpiffeId id, string name)
    {
        var cert = Issue(id);
        var certPath = _files.Write(name + "-cert.pem", cert.ExportCertificatePem());
        var keyPath = _files.Write(name + "-key.pem", cert.ExportPrivateKeyPem());
        if (!OperatingSystem.IsWindows())
            File.SetUnixFileMode(keyPath, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        return new PemFiles(cert, certPath, keyPath);
    }

    public void Dispose() => Ca.Dispose();

    private static string Tag(string subject)
        => new(subject.Select(c => char.IsAsciiLetterOrDigit(c) ? char.ToLowerInvariant(c) : '-').ToArray());
}

/// <summary>A workload certificate and where its PEM chain and key were written.</summary>
public sealed record PemFiles(WorkloadCertificate Certificate, string CertificatePath, string KeyPath)
{
    public SpiffeId Identity => Certificate.Identity;
}

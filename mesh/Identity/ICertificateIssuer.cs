namespace Ambient.Identity;

/// <summary>
/// Obtains a fresh workload certificate for an identity. Implementations: <see cref="LocalCaIssuer"/>
/// (in-process root CA); a cluster CA client later. Failures are reported by throwing; the
/// <see cref="CertificateManager"/> retries with backoff.
/// </summary>
public interface ICertificateIssuer
{
    Task<WorkloadCertificate> IssueAsync(SpiffeId id, CancellationToken ct);
}

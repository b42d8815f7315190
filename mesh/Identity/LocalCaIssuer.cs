namespace Ambient.Identity;

/// <summary>
/// Issues workload certificates in-process from a <see cref="MeshCa"/>: valid from one minute ago
/// (clock skew) for <see cref="Lifetime"/> (24 h by default), only for identities of our trust domain.
/// </summary>
public sealed class LocalCaIssuer : ICertificateIssuer
{
    public static readonly TimeSpan DefaultLifetime = TimeSpan.FromHours(24);

    private readonly MeshCa _ca;
    private readonly TimeProvider _time;

    public LocalCaIssuer(MeshCa ca, string trustDomain, TimeSpan? lifetime = null, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(ca);
        if (!SpiffeId.IsValidTrustDomain(trustDomain, out var error))
        {
            throw new ArgumentException(error, nameof(trustDomain));
        }

        Lifetime = lifetime ?? DefaultLifetime;
        if (Lifetime <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(lifetime), "certificate lifetime must be positive");
        }

        _ca = ca;
        _time = time ?? TimeProvider.System;
        TrustDomain = trustDomain;
    }

    public string TrustDomain { get; }

    public TimeSpan Lifetime { get; }

    public Task<WorkloadCertificate> IssueAsync(SpiffeId id, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(id);
        if (ct.IsCancellationRequested)
        {
            return Task.FromCanceled<WorkloadCertificate>(ct);
        }

        if (id.TrustDomain != TrustDomain)
        {
            return Task.FromException<WorkloadCertificate>(new InvalidOperationException(
                $"the local CA issues certificates for trust domain {TrustDomain} only, not for {id}"));
        }

        try
        {
            // Signing with a P-256 key takes well under a millisecond: no need to leave the caller's thread.
            var now = _time.GetUtcNow();
            return Task.FromResult(_ca.Issue(id, now - MeshCa.ClockSkewAllowance, now + Lifetime));
        }
        catch (Exception ex)
        {
            return Task.FromException<WorkloadCertificate>(ex);
        }
    }
}

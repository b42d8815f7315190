using System.Diagnostics.CodeAnalysis;

namespace Ambient.Identity;

/// <summary>
/// The outcome of checking a peer's certificate: the verified <see cref="PeerIdentity"/>, or a
/// human-readable <see cref="FailureReason"/> suitable for a log line
/// (e.g. "client trust domain other.org is not cluster.local").
/// </summary>
public sealed record TlsVerificationResult
{
    private TlsVerificationResult(SpiffeId? peerIdentity, string? failureReason)
    {
        PeerIdentity = peerIdentity;
        FailureReason = failureReason;
    }

    [MemberNotNullWhen(true, nameof(PeerIdentity))]
    [MemberNotNullWhen(false, nameof(FailureReason))]
    public bool IsVerified => PeerIdentity is not null;

    public SpiffeId? PeerIdentity { get; }

    public string? FailureReason { get; }

    public static TlsVerificationResult Verified(SpiffeId peerIdentity) =>
        new(peerIdentity ?? throw new ArgumentNullException(nameof(peerIdentity)), null);

    public static TlsVerificationResult Refused(string reason) =>
        new(null, string.IsNullOrEmpty(reason) ? throw new ArgumentException("reason required", nameof(reason)) : reason);

    public override string ToString() => IsVerified ? $"verified {PeerIdentity}" : $"refused: {FailureReason}";
}

using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Ambient.Identity;

/// <summary>
/// Decides whether a peer certificate is acceptable in the mesh, with a reason when it is not.
/// Trust is the mesh root only (<see cref="X509ChainTrustMode.CustomRootTrust"/>; the system store
/// is ignored; no revocation checking). Servers are checked against a per-connection list of
/// expected identities; clients only against the trust domain (which client identities may connect
/// is for authorization to decide, using the returned <see cref="TlsVerificationResult.PeerIdentity"/>).
/// </summary>
public static class MeshCertificateVerifier
{
    private static readonly Oid ServerAuthOid = new("1.3.6.1.5.5.7.3.1");
    private static readonly Oid ClientAuthOid = new("1.3.6.1.5.5.7.3.2");

    // Statuses that say "this chain does not lead to the mesh root".
    private const X509ChainStatusFlags UntrustedFlags =
        X509ChainStatusFlags.UntrustedRoot | X509ChainStatusFlags.PartialChain | X509ChainStatusFlags.NotSignatureValid
        | X509ChainStatusFlags.Cyclic | X509ChainStatusFlags.ExplicitDistrust;

    // Revocation is not checked; these can only be noise.
    private const X509ChainStatusFlags IgnoredFlags =
        X509ChainStatusFlags.RevocationStatusUnknown | X509ChainStatusFlags.OfflineRevocation;

    /// <summary>
    /// Chain policy trusting only <paramref name="root"/>, no revocation, requiring the EKU for the
    /// role the peer plays (<paramref name="peerIsServer"/>: serverAuth, else clientAuth).
    /// </summary>
    public static X509ChainPolicy CreateChainPolicy(X509Certificate2 root, bool peerIsServer)
    {
        ArgumentNullException.ThrowIfNull(root);
        var policy = new X509ChainPolicy
        {
            TrustMode = X509ChainTrustMode.CustomRootTrust,
            RevocationMode = X509RevocationMode.NoCheck,
            DisableCertificateDownloads = true,
        };
        policy.CustomTrustStore.Add(root);
        policy.ApplicationPolicy.Add(peerIsServer ? ServerAuthOid : ClientAuthOid);
        return policy;
    }

    /// <summary>Client side: is <paramref name="certificate"/> a mesh server certificate for one of <paramref name="expected"/>?</summary>
    public static TlsVerificationResult VerifyServer(
        X509Certificate2? certificate,
        X509Certificate2 root,
        IReadOnlyList<SpiffeId> expected,
        IEnumerable<X509Certificate2>? intermediates = null,
        DateTimeOffset? time = null)
    {
        ArgumentNullException.ThrowIfNull(expected);
        return Verify(certificate, root, peerIsServer: true, intermediates, time,
            (cert, chain, failed, now) => EvaluateServer(cert, chain, failed, expected, now));
    }

    /// <summary>Server side: is <paramref name="certificate"/> a mesh client certificate of <paramref name="trustDomain"/>?</summary>
    public static TlsVerificationResult VerifyClient(
        X509Certificate2? certificate,
        X509Certificate2 root,
        string trustDomain,
        IEnumerable<X509Certificate2>? intermediates = null,
        DateTimeOffset? time = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(trustDomain);
        return Verify(certificate, root, peerIsServer: false, intermediates, time,
            (cert, chain, failed, now) => EvaluateClient(cert, chain, failed, trustDomain, now));
    }

    /// <summary>Evaluates a chain SslStream built with <see cref="CreateChainPolicy"/>.</summary>
    internal static TlsVerificationResult EvaluateServer(
        X509Certificate2? certificate, X509Chain? chain, bool chainFailed, IReadOnlyList<SpiffeId> expected, DateTimeOffset now)
    {
        if (certificate is null)
        {
            return TlsVerificationResult.Refused("server presented no certificate");
        }

        if (ChainProblem(certificate, chain, chainFailed, peerIsServer: true, now) is { } problem)
        {
            return TlsVerificationResult.Refused(problem);
        }

        if (!SpiffeId.TryFromCertificate(certificate, out var id, out var error))
        {
            return TlsVerificationResult.Refused($"server certificate has no usable SPIFFE ID: {error}");
        }

        foreach (var candidate in expected)
        {
            if (candidate == id)
            {
                return TlsVerificationResult.Verified(id);
            }
        }

        return TlsVerificationResult.Refused($"server identity {id} is not one of [{string.Join(", ", expected)}]");
    }

    internal static TlsVerificationResult EvaluateClient(
        X509Certificate2? certificate, X509Chain? chain, bool chainFailed, string trustDomain, DateTimeOffset now)
    {
        if (certificate is null)
        {
            return TlsVerificationResult.Refused("client presented no certificate");
        }

        if (ChainProblem(certificate, chain, chainFailed, peerIsServer: false, now) is { } problem)
        {
            return TlsVerificationResult.Refused(problem);
        }

        if (!SpiffeId.TryFromCertificate(certificate, out var id, out var error))
        {
            return TlsVerificationResult.Refused($"client certificate has no usable SPIFFE ID: {error}");
        }

        if (id.TrustDomain != trustDomain)
        {
            return TlsVerificationResult.Refused($"client trust domain {id.TrustDomain} is not {trustDomain}");
        }

        return TlsVerificationResult.Verified(id);
    }

    /// <summary>Whether SslStream reported a chain problem (name mismatch is irrelevant: we check SPIFFE IDs).</summary>
    internal static bool ChainFailed(SslPolicyErrors errors) => (errors & SslPolicyErrors.RemoteCertificateChainErrors) != 0;

    private static TlsVerificationResult Verify(
        X509Certificate2? certificate,
        X509Certificate2 root,
        bool peerIsServer,
        IEnumerable<X509Certificate2>? intermediates,
        DateTimeOffset? time,
        Func<X509Certificate2?, X509Chain?, bool, DateTimeOffset, TlsVerificationResult> evaluate)
    {
        ArgumentNullException.ThrowIfNull(root);
        var now = time ?? DateTimeOffset.UtcNow;
        if (certificate is null)
        {
            return evaluate(null, null, false, now);
        }

        using var chain = new X509Chain { ChainPolicy = CreateChainPolicy(root, peerIsServer) };
        chain.ChainPolicy.VerificationTime = now.UtcDateTime;
        chain.ChainPolicy.VerificationTimeIgnored = false;
        if (intermediates is not null)
        {
            foreach (var intermediate in intermediates)
            {
                chain.ChainPolicy.ExtraStore.Add(intermediate);
            }
        }

        try
        {
            bool valid = chain.Build(certificate);
            return evaluate(certificate, chain, !valid, now);
        }
        finally
        {
            foreach (var element in chain.ChainElements)
            {
                element.Certificate.Dispose();
            }
        }
    }

    private static string? ChainProblem(
        X509Certificate2 certificate, X509Chain? chain, bool chainFailed, bool peerIsServer, DateTimeOffset now)
    {
        var flags = X509ChainStatusFlags.NoError;
        if (chain is not null)
        {
            foreach (var status in chain.ChainStatus)
            {
                flags |= status.Status;
            }
        }

        flags &= ~IgnoredFlags;
        if (flags == X509ChainStatusFlags.NoError)
        {
            return chainFailed ? "certificate chain did not validate against the mesh CA" : null;
        }

        if ((flags & UntrustedFlags) != 0)
        {
            return $"certificate not issued by the mesh CA (issuer \"{certificate.Issuer}\"; chain status {flags & UntrustedFlags})";
        }

        if ((flags & X509ChainStatusFlags.NotTimeValid) != 0)
        {
            var notBefore = new DateTimeOffset(certificate.NotBefore.ToUniversalTime());
            var notAfter = new DateTimeOffset(certificate.NotAfter.ToUniversalTime());
            if (now >= notAfter)
            {
                return $"certificate expired at {notAfter:u}";
            }

            if (now < notBefore)
            {
                return $"certificate not yet valid (valid from {notBefore:u})";
            }

            return "a CA certificate in the chain is expired or not yet valid";
        }

        if ((flags & X509ChainStatusFlags.NotValidForUsage) != 0)
        {
            return $"certificate not valid for {(peerIsServer ? "server" : "client")} authentication (extended key usage)";
        }

        return $"certificate chain invalid: {flags}";
    }
}

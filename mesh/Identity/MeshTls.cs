using System.Net;
using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Logging;

namespace Ambient.Identity;

/// <summary>
/// SslStream options for HBONE mTLS: TLS 1.3 only, ALPN "h2", no SNI, no resumption or
/// renegotiation, mesh-root-only trust, and SPIFFE identity checks with logged refusal reasons.
/// Options are cheap to create per connection (the certificate context is cached on the
/// <see cref="WorkloadCertificate"/>).
/// </summary>
public static class MeshTls
{
    /// <summary>The only ALPN protocol HBONE speaks.</summary>
    public static readonly SslApplicationProtocol ApplicationProtocol = SslApplicationProtocol.Http2;

    /// <summary>
    /// Options for accepting an HBONE connection as <paramref name="current"/>. Requires a client
    /// certificate chaining to <paramref name="root"/> with a SPIFFE ID in <paramref name="trustDomain"/>;
    /// any such identity is accepted here (authorization decides later, see <see cref="GetPeerIdentity"/>).
    /// Refusals are logged at Warning; pass <paramref name="verification"/> to get the endpoint into the
    /// log line and the reason back after the handshake throws.
    /// </summary>
    public static SslServerAuthenticationOptions CreateServerOptions(
        WorkloadCertificate current,
        X509Certificate2 root,
        string trustDomain,
        ILogger log,
        TlsPeerVerification? verification = null)
    {
        ArgumentNullException.ThrowIfNull(current);
        ArgumentNullException.ThrowIfNull(root);
        ArgumentNullException.ThrowIfNull(log);
        if (!SpiffeId.IsValidTrustDomain(trustDomain, out var error))
        {
            throw new ArgumentException(error, nameof(trustDomain));
        }

        return new SslServerAuthenticationOptions
        {
            ServerCertificateContext = current.CertificateContext,
            EnabledSslProtocols = SslProtocols.Tls13,
            ApplicationProtocols = [ApplicationProtocol],
            ClientCertificateRequired = true,
            CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
            CertificateChainPolicy = MeshCertificateVerifier.CreateChainPolicy(root, peerIsServer: false),
            AllowRenegotiation = false,
            AllowTlsResume = false,
            RemoteCertificateValidationCallback = (_, certificate, chain, errors) => Check(
                "server", log, verification,
                () => MeshCertificateVerifier.EvaluateClient(
                    AsCertificate2(certificate), chain, MeshCertificateVerifier.ChainFailed(errors), trustDomain, DateTimeOffset.UtcNow)),
        };
    }

    /// <summary>
    /// Options for opening an HBONE connection as <paramref name="current"/> to a server that must
    /// prove one of <paramref name="expectedServer"/> (e.g. the destination workload's identity, or
    /// the waypoint's). No SNI is sent.
    /// </summary>
    public static SslClientAuthenticationOptions CreateClientOptions(
        WorkloadCertificate current,
        X509Certificate2 root,
        IReadOnlyList<SpiffeId> expectedServer,
        ILogger log,
        TlsPeerVerification? verification = null)
    {
        ArgumentNullException.ThrowIfNull(current);
        ArgumentNullException.ThrowIfNull(root);
        ArgumentNullException.ThrowIfNull(expectedServer);
        ArgumentNullException.ThrowIfNull(log);
        if (expectedServer.Count == 0)
        {
            throw new ArgumentException("at least one expected server identity is required", nameof(expectedServer));
        }

        SpiffeId[] expected = [.. expectedServer]; // the caller's list may change after this call
        return new SslClientAuthenticationOptions
        {
            TargetHost = string.Empty, // no SNI: the peer's identity is checked against `expected`
            ClientCertificateContext = current.CertificateContext,
            EnabledSslProtocols = SslProtocols.Tls13,
            ApplicationProtocols = [ApplicationProtocol],
            CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
            CertificateChainPolicy = MeshCertificateVerifier.CreateChainPolicy(root, peerIsServer: true),
            AllowRenegotiation = false,
            AllowTlsResume = false,
            RemoteCertificateValidationCallback = (_, certificate, chain, errors) => Check(
                "client", log, verification,
                () => MeshCertificateVerifier.EvaluateServer(
                    AsCertificate2(certificate), chain, MeshCertificateVerifier.ChainFailed(errors), expected, DateTimeOffset.UtcNow)),
        };
    }

    /// <summary>The peer's SPIFFE ID after a successful handshake (null if it sent no usable certificate).</summary>
    public static SpiffeId? GetPeerIdentity(SslStream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        switch (stream.RemoteCertificate)
        {
            case null:
                return null;
            case X509Certificate2 certificate:
                return SpiffeId.FromCertificate(certificate);
            case var other:
                using (var copy = X509CertificateLoader.LoadCertificate(other.GetRawCertData()))
                {
                    return SpiffeId.FromCertificate(copy);
                }
        }
    }

    private static bool Check(string side, ILogger log, TlsPeerVerification? verification, Func<TlsVerificationResult> evaluate)
    {
        TlsVerificationResult result;
        try
        {
            result = evaluate();
        }
        catch (Exception ex)
        {
            // Never let an exception escape into SslStream: refuse, with the reason.
            result = TlsVerificationResult.Refused($"certificate verification error: {ex.Message}");
        }

        verification?.Record(result);
        EndPoint? remote = verification?.RemoteEndPoint;
        if (!result.IsVerified)
        {
            if (remote is not null)
            {
                IdentityLog.PeerRefused(log, side, remote, result.FailureReason);
            }
            else
            {
                IdentityLog.PeerRefusedNoEndpoint(log, side, result.FailureReason);
            }
        }
        else
        {
            IdentityLog.PeerVerified(log, side, remote, result.PeerIdentity);
        }

        return result.IsVerified;
    }

    private static X509Certificate2? AsCertificate2(X509Certificate? certificate) => certificate switch
    {
        null => null,
        X509Certificate2 c2 => c2,
        _ => X509CertificateLoader.LoadCertificate(certificate.GetRawCertData()),
    };
}

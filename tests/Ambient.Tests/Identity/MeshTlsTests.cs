using System.Net;
using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using Ambient.Identity;
using Microsoft.Extensions.Logging;

namespace Ambient.Tests.Identity;

/// <summary>Real mTLS handshakes over loopback sockets with SslStream on both sides.</summary>
public sealed class MeshTlsTests : IDisposable
{
    private const string TrustDomain = "cluster.local";
    private static readonly SpiffeId ServerId = new(TrustDomain, "backend", "api");
    private static readonly SpiffeId ClientId = new(TrustDomain, "frontend", "web");

    private readonly MeshCa _ca = MeshCa.Create();
    private readonly MeshCa _otherCa = MeshCa.Create(); // same subject name, different key
    private readonly ListLogger _serverLog = new();
    private readonly ListLogger _clientLog = new();

    public void Dispose()
    {
        _ca.Dispose();
        _otherCa.Dispose();
    }

    [Fact]
    public async Task Mutual_tls_succeeds_with_expected_identity_over_tls13_and_h2()
    {
        var serverCert = Issue(_ca, ServerId);
        var clientCert = Issue(_ca, ClientId);
        TlsPeerVerification? serverSide = null;
        var clientSide = new TlsPeerVerification();

        await using var conn = await LoopbackTls.HandshakeAsync(
            remote => MeshTls.CreateServerOptions(serverCert, _ca.RootCertificate, TrustDomain, _serverLog,
                serverSide = new TlsPeerVerification(remote)),
            MeshTls.CreateClientOptions(clientCert, _ca.RootCertificate, [new SpiffeId(TrustDomain, "x", "y"), ServerId], _clientLog, clientSide));

        Assert.Null(conn.ServerError);
        Assert.Null(conn.ClientError);
        Assert.Equal(SslProtocols.Tls13, conn.Server.SslProtocol);
        Assert.Equal(SslProtocols.Tls13, conn.Client.SslProtocol);
        Assert.Equal(SslApplicationProtocol.Http2, conn.Server.NegotiatedApplicationProtocol);
        Assert.Equal(SslApplicationProtocol.Http2, conn.Client.NegotiatedApplicationProtocol);
        Assert.True(conn.Server.IsMutuallyAuthenticated);

        Assert.Equal(ClientId, MeshTls.GetPeerIdentity(conn.Server));
        Assert.Equal(ServerId, MeshTls.GetPeerIdentity(conn.Client));
        Assert.Equal(ClientId, serverSide!.PeerIdentity);
        Assert.Equal(ServerId, clientSide.PeerIdentity);
        Assert.Null(serverSide.FailureReason);
        Assert.Empty(_serverLog.MessagesAt(LogLevel.Warning));
        Assert.Empty(_clientLog.MessagesAt(LogLevel.Warning));

        await conn.Client.WriteAsync("ping"u8.ToArray());
        var buffer = new byte[4];
        await conn.Server.ReadExactlyAsync(buffer);
        Assert.Equal("ping"u8.ToArray(), buffer);
        await conn.Server.WriteAsync("pong"u8.ToArray());
        await conn.Client.ReadExactlyAsync(buffer);
        Assert.Equal("pong"u8.ToArray(), buffer);
    }

    [Fact]
    public async Task Certificates_reloaded_from_exported_pem_work_for_tls()
    {
        // The interop path: nghttpx / Node.js read the same PEM files.
        static WorkloadCertificate RoundTrip(WorkloadCertificate c) =>
            new(X509Certificate2.CreateFromPem(c.ExportCertificatePem(), c.ExportPrivateKeyPem()));
        var serverCert = RoundTrip(Issue(_ca, ServerId));
        var clientCert = RoundTrip(Issue(_ca, ClientId));
        using var root = X509Certificate2.CreateFromPem(_ca.ExportPem());

        await using var conn = await LoopbackTls.HandshakeAsync(
            _ => MeshTls.CreateServerOptions(serverCert, root, TrustDomain, _serverLog),
            MeshTls.CreateClientOptions(clientCert, root, [ServerId], _clientLog));

        Assert.Null(conn.ServerError);
        Assert.Null(conn.ClientError);
        Assert.Equal(ClientId, MeshTls.GetPeerIdentity(conn.Server));
    }

    [Fact]
    public async Task Client_refuses_server_with_unexpected_identity()
    {
        var verification = new TlsPeerVerification();
        SpiffeId[] expected = [new(TrustDomain, "payments", "ledger"), new(TrustDomain, "payments", "audit")];

        await using var conn = await HandshakeAsync(Issue(_ca, ServerId), Issue(_ca, ClientId), expected, clientVerification: verification);

        Assert.IsAssignableFrom<AuthenticationException>(conn.ClientError);
        await conn.AssertServerCannotUseAsync();
        Assert.Equal(
            "server identity spiffe://cluster.local/ns/backend/sa/api is not one of " +
            "[spiffe://cluster.local/ns/payments/sa/ledger, spiffe://cluster.local/ns/payments/sa/audit]",
            verification.FailureReason);
        Assert.Equal(verification.FailureReason, verification.Describe(conn.ClientError));
        Assert.Contains(_clientLog.MessagesAt(LogLevel.Warning), m => m.Contains("is not one of", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Client_refuses_server_certificate_from_another_ca()
    {
        var verification = new TlsPeerVerification();

        await using var conn = await HandshakeAsync(Issue(_otherCa, ServerId), Issue(_ca, ClientId), [ServerId], clientVerification: verification);

        Assert.IsAssignableFrom<AuthenticationException>(conn.ClientError);
        await conn.AssertServerCannotUseAsync();
        Assert.StartsWith("certificate not issued by the mesh CA", verification.FailureReason);
    }

    [Fact]
    public async Task Server_refuses_client_without_certificate_and_logs_reason_with_endpoint()
    {
        TlsPeerVerification? verification = null;
        var clientOptions = MeshTls.CreateClientOptions(Issue(_ca, ClientId), _ca.RootCertificate, [ServerId], _clientLog);
        clientOptions.ClientCertificateContext = null;
        var serverCert = Issue(_ca, ServerId);

        await using var conn = await LoopbackTls.HandshakeAsync(
            remote => MeshTls.CreateServerOptions(serverCert, _ca.RootCertificate, TrustDomain, _serverLog,
                verification = new TlsPeerVerification(remote)),
            clientOptions);

        Assert.IsAssignableFrom<AuthenticationException>(conn.ServerError);
        await conn.AssertClientCannotUseAsync();
        Assert.Equal("client presented no certificate", verification!.FailureReason);
        var warning = Assert.Single(_serverLog.MessagesAt(LogLevel.Warning));
        Assert.Contains(conn.ClientEndPoint.ToString()!, warning);
        Assert.Contains("client presented no certificate", warning);
    }

    [Fact]
    public async Task Server_refuses_client_certificate_from_another_ca()
    {
        var verification = new TlsPeerVerification();

        await using var conn = await HandshakeAsync(Issue(_ca, ServerId), Issue(_otherCa, ClientId), [ServerId], serverVerification: verification);

        Assert.IsAssignableFrom<AuthenticationException>(conn.ServerError);
        await conn.AssertClientCannotUseAsync();
        Assert.StartsWith("certificate not issued by the mesh CA", verification.FailureReason);
    }

    [Fact]
    public async Task Server_refuses_client_from_another_trust_domain()
    {
        var verification = new TlsPeerVerification();
        var foreign = Issue(_ca, new SpiffeId("other.org", "frontend", "web")); // same root, wrong trust domain

        await using var conn = await HandshakeAsync(Issue(_ca, ServerId), foreign, [ServerId], serverVerification: verification);

        Assert.IsAssignableFrom<AuthenticationException>(conn.ServerError);
        await conn.AssertClientCannotUseAsync();
        Assert.Equal("client trust domain other.org is not cluster.local", verification.FailureReason);
        Assert.Contains(_serverLog.MessagesAt(LogLevel.Warning), m => m.Contains("client trust domain other.org is not cluster.local", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Client_refuses_expired_server_certificate()
    {
        var verification = new TlsPeerVerification();
        var now = DateTimeOffset.UtcNow;
        var expired = _ca.Issue(ServerId, now.AddDays(-2), now.AddDays(-1));

        await using var conn = await HandshakeAsync(expired, Issue(_ca, ClientId), [ServerId], clientVerification: verification);

        Assert.IsAssignableFrom<AuthenticationException>(conn.ClientError);
        await conn.AssertServerCannotUseAsync();
        Assert.StartsWith("certificate expired at ", verification.FailureReason);
    }

    [Fact]
    public async Task Server_refuses_expired_client_certificate()
    {
        var verification = new TlsPeerVerification();
        var now = DateTimeOffset.UtcNow;
        var expired = _ca.Issue(ClientId, now.AddHours(-30), now.AddHours(-6));

        await using var conn = await HandshakeAsync(Issue(_ca, ServerId), expired, [ServerId], serverVerification: verification);

        Assert.IsAssignableFrom<AuthenticationException>(conn.ServerError);
        await conn.AssertClientCannotUseAsync();
        Assert.StartsWith("certificate expired at ", verification.FailureReason);
    }

    [Fact]
    public async Task Tls12_only_client_is_refused()
    {
        var serverVerification = new TlsPeerVerification();
        var clientOptions = MeshTls.CreateClientOptions(Issue(_ca, ClientId), _ca.RootCertificate, [ServerId], _clientLog);
        clientOptions.EnabledSslProtocols = SslProtocols.Tls12;
        var serverCert = Issue(_ca, ServerId);

        await using var conn = await LoopbackTls.HandshakeAsync(
            _ => MeshTls.CreateServerOptions(serverCert, _ca.RootCertificate, TrustDomain, _serverLog, serverVerification),
            clientOptions);

        Assert.IsAssignableFrom<AuthenticationException>(conn.ServerError);
        Assert.IsAssignableFrom<AuthenticationException>(conn.ClientError);
        Assert.Null(serverVerification.Result); // refused before any certificate was looked at
        Assert.NotEmpty(serverVerification.Describe(conn.ServerError));
    }

    [Fact]
    public void Client_options_require_an_expected_identity()
    {
        Assert.Throws<ArgumentException>(() =>
            MeshTls.CreateClientOptions(Issue(_ca, ClientId), _ca.RootCertificate, [], _clientLog));
    }

    private static WorkloadCertificate Issue(MeshCa ca, SpiffeId id)
    {
        var now = DateTimeOffset.UtcNow;
        return ca.Issue(id, now.AddMinutes(-1), now.AddHours(24));
    }

    private Task<LoopbackTls.Connection> HandshakeAsync(
        WorkloadCertificate serverCert,
        WorkloadCertificate clientCert,
        IReadOnlyList<SpiffeId> expectedServer,
        TlsPeerVerification? serverVerification = null,
        TlsPeerVerification? clientVerification = null) =>
        LoopbackTls.HandshakeAsync(
            _ => MeshTls.CreateServerOptions(serverCert, _ca.RootCertificate, TrustDomain, _serverLog, serverVerification),
            MeshTls.CreateClientOptions(clientCert, _ca.RootCertificate, expectedServer, _clientLog, clientVerification));
}

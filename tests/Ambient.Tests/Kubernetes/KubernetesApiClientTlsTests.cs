using System.Collections.Concurrent;
using System.Net;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Ambient.Discovery.Kubernetes;
using k8s.Exceptions;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Ambient.Tests.Kubernetes;

/// <summary>
/// <see cref="KubernetesApiClient"/> against a real TLS API server (Kestrel on 127.0.0.1, certificates made here): the
/// kubeconfig's cluster CA really validates the server, its client certificate (inline or files) is presented, its
/// token is sent, skip-verify skips, and a certificate without its key is refused with a clear message.
/// </summary>
public sealed class KubernetesApiClientTlsTests : IDisposable
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);
    private readonly string _dir = Directory.CreateTempSubdirectory("ambient-k8s-tls-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task InlineCaClientCertificateAndToken_AreUsedOnTheTlsConnection()
    {
        using var pki = Pki.Create("cluster");
        await using var server = await TlsApiServer.StartAsync(pki.Server, ClientCertificateMode.RequireCertificate);
        var kubeconfig = WriteKubeconfig(server.Url,
            cluster: [$"certificate-authority-data: {Base64(pki.CaPem)}"],
            user: [$"client-certificate-data: {Base64(pki.ClientPem)}", $"client-key-data: {Base64(pki.ClientKeyPem())}", "token: s3cret-token"]);

        var configuration = KubernetesSource.LoadConfiguration(kubeconfig, "test");
        using var client = new KubernetesApiClient(configuration);
        using var cts = new CancellationTokenSource(Wait);
        using var response = await client.GetAsync("/api/v1/pods", cts.Token);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains("PodList", await response.Content.ReadAsStringAsync(cts.Token), StringComparison.Ordinal);
        var seen = Assert.Single(server.Requests);
        Assert.Equal("/api/v1/pods", seen.Path);
        Assert.Equal(pki.Client.Thumbprint, seen.ClientCertificateThumbprint);
        Assert.Equal("Bearer s3cret-token", seen.Authorization);
        Assert.Equal("HTTP/2", seen.Protocol); // negotiated by ALPN, as the client asks for
    }

    [Fact]
    public async Task ServerCertificate_FromAnotherCa_IsRefused()
    {
        using var pki = Pki.Create("cluster");
        using var stranger = Pki.Create("stranger");
        await using var server = await TlsApiServer.StartAsync(pki.Server, ClientCertificateMode.RequireCertificate);
        string[] user = [$"client-certificate-data: {Base64(pki.ClientPem)}", $"client-key-data: {Base64(pki.ClientKeyPem())}"];
        using var cts = new CancellationTokenSource(Wait);

        var wrongCa = WriteKubeconfig(server.Url, cluster: [$"certificate-authority-data: {Base64(stranger.CaPem)}"], user: user, name: "wrong-ca");
        using (var client = new KubernetesApiClient(KubernetesSource.LoadConfiguration(wrongCa, "test")))
        {
            var e = await Assert.ThrowsAsync<HttpRequestException>(() => client.GetAsync("/api/v1/pods", cts.Token));
            Assert.IsType<AuthenticationException>(e.InnerException); // the handshake failed: the server certificate was refused
        }
        Assert.Empty(server.Requests);

        // The same server, client certificate and kubeconfig with the right CA: only the CA made the difference.
        var rightCa = WriteKubeconfig(server.Url, cluster: [$"certificate-authority-data: {Base64(pki.CaPem)}"], user: user, name: "right-ca");
        using (var client = new KubernetesApiClient(KubernetesSource.LoadConfiguration(rightCa, "test")))
        {
            using var response = await client.GetAsync("/api/v1/pods", cts.Token);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }
        Assert.Single(server.Requests);
    }

    [Fact]
    public async Task InsecureSkipTlsVerify_WithoutCa_Connects()
    {
        using var pki = Pki.Create("cluster");
        await using var server = await TlsApiServer.StartAsync(pki.Server, ClientCertificateMode.AllowCertificate);
        var kubeconfig = WriteKubeconfig(server.Url, cluster: ["insecure-skip-tls-verify: true"], user: ["token: s3cret-token"]);

        var configuration = KubernetesSource.LoadConfiguration(kubeconfig, "test");
        Assert.True(configuration.SkipTlsVerify);
        Assert.Null(configuration.SslCaCerts); // nothing to validate the server's (untrusted) CA with
        using var client = new KubernetesApiClient(configuration);
        using var cts = new CancellationTokenSource(Wait);
        using var response = await client.GetAsync("/api/v1/pods", cts.Token);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var seen = Assert.Single(server.Requests);
        Assert.Equal("Bearer s3cret-token", seen.Authorization);
        Assert.Null(seen.ClientCertificateThumbprint);
    }

    [Fact]
    public async Task CaClientCertificateAndKey_FromFiles_AreUsed()
    {
        using var pki = Pki.Create("cluster");
        await using var server = await TlsApiServer.StartAsync(pki.Server, ClientCertificateMode.RequireCertificate);
        await File.WriteAllTextAsync(Path.Combine(_dir, "ca.crt"), pki.CaPem);
        await File.WriteAllTextAsync(Path.Combine(_dir, "client.crt"), pki.ClientPem);
        await File.WriteAllTextAsync(Path.Combine(_dir, "client.key"), pki.ClientKeyPem(sec1: true));
        // Relative paths, resolved against the kubeconfig's directory as kubectl does.
        var kubeconfig = WriteKubeconfig(server.Url, cluster: ["certificate-authority: ca.crt"], user: ["client-certificate: client.crt", "client-key: client.key"]);

        var configuration = KubernetesSource.LoadConfiguration(kubeconfig, "test");
        Assert.Equal(Path.Combine(_dir, "client.crt"), configuration.ClientCertificateFilePath);
        Assert.Equal(Path.Combine(_dir, "client.key"), configuration.ClientKeyFilePath);
        using var client = new KubernetesApiClient(configuration);
        using var cts = new CancellationTokenSource(Wait);
        using var response = await client.GetAsync("/api/v1/pods", cts.Token);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var seen = Assert.Single(server.Requests);
        Assert.Equal(pki.Client.Thumbprint, seen.ClientCertificateThumbprint);
        Assert.Equal("", seen.Authorization); // the certificate is the only credential
    }

    [Fact]
    public void ClientCertificate_WithoutItsKey_IsRefusedWithAClearMessage()
    {
        using var pki = Pki.Create("cluster");

        // A configuration built in code reaches our check: certificate without key, and key without certificate.
        var certificateOnly = new k8s.KubernetesClientConfiguration { Host = "https://127.0.0.1:1", SkipTlsVerify = true, ClientCertificateData = Base64(pki.ClientPem) };
        var e = Assert.Throws<KubeConfigException>(() => KubernetesApiClient.ClientCertificate(certificateOnly));
        Assert.Contains("client-key is missing", e.Message, StringComparison.Ordinal);
        Assert.Throws<KubeConfigException>(() => new KubernetesApiClient(certificateOnly));
        var keyOnly = new k8s.KubernetesClientConfiguration { Host = "https://127.0.0.1:1", SkipTlsVerify = true, ClientCertificateKeyData = Base64(pki.ClientKeyPem()) };
        Assert.Contains("client-certificate is missing", Assert.Throws<KubeConfigException>(() => KubernetesApiClient.ClientCertificate(keyOnly)).Message, StringComparison.Ordinal);

        // From a kubeconfig, KubernetesClient's loader gets there first: it only takes client-certificate-data together
        // with client-key-data. Alone, the certificate is no credential at all, and loading says so...
        string[] cluster = [$"certificate-authority-data: {Base64(pki.CaPem)}"];
        var alone = WriteKubeconfig("https://127.0.0.1:1", cluster, user: [$"client-certificate-data: {Base64(pki.ClientPem)}"], name: "alone");
        var loadError = Assert.Throws<KubeConfigException>(() => KubernetesSource.LoadConfiguration(alone, "test"));
        Assert.Contains("does not have appropriate auth credentials", loadError.Message, StringComparison.Ordinal);
        // ...and next to a token it is dropped without a word: the client connects with the token only.
        var withToken = WriteKubeconfig("https://127.0.0.1:1", cluster, user: [$"client-certificate-data: {Base64(pki.ClientPem)}", "token: t"], name: "with-token");
        var configuration = KubernetesSource.LoadConfiguration(withToken, "test");
        Assert.Null(configuration.ClientCertificateData);
        Assert.Null(KubernetesApiClient.ClientCertificate(configuration));
    }

    // ---- helpers -------------------------------------------------------------------------------------------------

    private static string Base64(string pem) => Convert.ToBase64String(Encoding.UTF8.GetBytes(pem));

    /// <summary>Writes a kubeconfig with one cluster, user and context (all named "test"), the given YAML lines under cluster: and user:.</summary>
    private string WriteKubeconfig(string server, string[] cluster, string[] user, string name = "kubeconfig")
    {
        var path = Path.Combine(_dir, name);
        const string Indent = "\n    ";
        File.WriteAllText(path, $"""
            apiVersion: v1
            kind: Config
            clusters:
            - name: test
              cluster:
                server: "{server}"{string.Concat(cluster.Select(l => Indent + l))}
            contexts:
            - name: test
              context:
                cluster: test
                user: test
            current-context: test
            users:
            - name: test
              user:{string.Concat(user.Select(l => Indent + l))}
            """);
        return path;
    }

    [Fact]
    public async Task ServerCertificate_FromTheClusterCa_ForAnotherAddress_IsRefused()
    {
        // Signed by the right CA but issued to 10.9.9.9 (another node's kubelet, say): it must not pass for the API server.
        using var pki = Pki.Create("cluster", serverIp: IPAddress.Parse("10.9.9.9"));
        await using var server = await TlsApiServer.StartAsync(pki.Server, ClientCertificateMode.AllowCertificate);
        var kubeconfig = WriteKubeconfig(server.Url, cluster: [$"certificate-authority-data: {Base64(pki.CaPem)}"], user: ["token: s3cret-token"]);
        using var client = new KubernetesApiClient(KubernetesSource.LoadConfiguration(kubeconfig, "test"));
        using var cts = new CancellationTokenSource(Wait);

        var e = await Assert.ThrowsAsync<HttpRequestException>(() => client.GetAsync("/api/v1/pods", cts.Token));
        Assert.IsType<AuthenticationException>(e.InnerException);
        Assert.Empty(server.Requests); // and the token never left
    }

    /// <summary>A CA (ECDSA P-256) with a server certificate for 127.0.0.1 and a client certificate, both issued by it.</summary>
    private sealed class Pki : IDisposable
    {
        private Pki(X509Certificate2 ca, X509Certificate2 server, X509Certificate2 client) => (Ca, Server, Client) = (ca, server, client);

        public X509Certificate2 Ca { get; }
        public X509Certificate2 Server { get; }
        public X509Certificate2 Client { get; }
        public string CaPem => Ca.ExportCertificatePem();
        public string ClientPem => Client.ExportCertificatePem();

        /// <summary>The client key as PKCS#8 ("PRIVATE KEY"), or SEC1 ("EC PRIVATE KEY", as openssl and kubeadm write EC keys).</summary>
        public string ClientKeyPem(bool sec1 = false)
        {
            using var key = Client.GetECDsaPrivateKey()!;
            return sec1 ? key.ExportECPrivateKeyPem() : key.ExportPkcs8PrivateKeyPem();
        }

        public static Pki Create(string name, IPAddress? serverIp = null)
        {
            var ca = Issue($"CN={name} CA", issuer: null);
            var server = Issue("CN=kube-apiserver", ca, serverIp: serverIp ?? IPAddress.Loopback);
            var client = Issue("CN=system:node:test, O=system:nodes", ca);
            return new Pki(ca, server, client);
        }

        /// <summary>A self-signed CA without <paramref name="issuer"/>; else a leaf it signs, for TLS servers at <paramref name="serverIp"/> or clients.</summary>
        private static X509Certificate2 Issue(string subject, X509Certificate2? issuer, IPAddress? serverIp = null)
        {
            using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
            var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256);
            var isCa = issuer is null;
            request.CertificateExtensions.Add(new X509BasicConstraintsExtension(isCa, false, 0, true));
            request.CertificateExtensions.Add(new X509KeyUsageExtension(
                isCa ? X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign : X509KeyUsageFlags.DigitalSignature, true));
            request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
            var notBefore = DateTimeOffset.UtcNow.AddMinutes(-5);
            var notAfter = DateTimeOffset.UtcNow.AddDays(1);
            if (issuer is null) return request.CreateSelfSigned(notBefore, notAfter);

            var usage = serverIp is null ? "1.3.6.1.5.5.7.3.2" : "1.3.6.1.5.5.7.3.1"; // clientAuth : serverAuth
            request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid(usage)], false));
            if (serverIp is not null)
            {
                var san = new SubjectAlternativeNameBuilder();
                san.AddIpAddress(serverIp);
                request.CertificateExtensions.Add(san.Build());
            }
            request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(issuer, true, false));
            using var certificate = request.Create(issuer, notBefore, notAfter, RandomNumberGenerator.GetBytes(16));
            return certificate.CopyWithPrivateKey(key);
        }

        public void Dispose()
        {
            Ca.Dispose();
            Server.Dispose();
            Client.Dispose();
        }
    }

    /// <summary>One request the TLS server answered, with what TLS and HTTP told it.</summary>
    private sealed record SeenRequest(string Path, string Protocol, string Authorization, string? ClientCertificateThumbprint);

    /// <summary>Kestrel over TLS on 127.0.0.1 (any port), answering every request with an empty PodList and recording it.</summary>
    private sealed class TlsApiServer : IAsyncDisposable
    {
        private readonly WebApplication _app;
        private readonly ConcurrentQueue<SeenRequest> _requests = new();

        private TlsApiServer(WebApplication app) => _app = app;

        public string Url { get; private set; } = "";

        public IReadOnlyList<SeenRequest> Requests => [.. _requests];

        /// <summary>Client certificates are accepted whoever issued them (the test checks which one came).</summary>
        public static async Task<TlsApiServer> StartAsync(X509Certificate2 certificate, ClientCertificateMode clientCertificates)
        {
            var builder = WebApplication.CreateSlimBuilder();
            builder.Logging.ClearProviders();
            builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0, listen => listen.UseHttps(new HttpsConnectionAdapterOptions
            {
                ServerCertificate = certificate,
                ClientCertificateMode = clientCertificates,
                ClientCertificateValidation = static (_, _, _) => true,
            })));
            var server = new TlsApiServer(builder.Build());
            server._app.Run(server.HandleAsync);
            await server._app.StartAsync();
            var address = server._app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
            server.Url = $"https://127.0.0.1:{new Uri(address).Port}";
            return server;
        }

        private async Task HandleAsync(HttpContext context)
        {
            _requests.Enqueue(new SeenRequest(
                context.Request.Path.Value ?? "",
                context.Request.Protocol,
                context.Request.Headers.Authorization.ToString(),
                context.Connection.ClientCertificate?.Thumbprint));
            context.Response.ContentType = "application/json";
            await context.Response.WriteAsync("""{"kind":"PodList","apiVersion":"v1","metadata":{"resourceVersion":"1"},"items":[]}""");
        }

        public async ValueTask DisposeAsync()
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            await _app.StopAsync(timeout.Token);
            await _app.DisposeAsync();
        }
    }
}

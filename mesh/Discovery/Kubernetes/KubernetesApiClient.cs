using System.Net;
using System.Net.Http.Headers;
using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;

namespace Ambient.Discovery.Kubernetes;

/// <summary>
/// GET requests to the API server with KubernetesClient's configuration and credentials (bearer token, refreshed
/// service-account token file, exec plugin, basic auth, client certificates, the cluster's CA or skip-verify) on an
/// HttpClient set up as KubernetesClient sets up its own (HTTP/2 keep-alive pings). Its generated <c>Kubernetes</c>
/// client is not used: constructing it links the JSON metadata of every Kubernetes model into the NativeAOT daemon
/// (~2.7 MB of code and ~10 MB of type data rehydrated at start, all of it resident), and we never use those models.
/// Responses are handed back raw; the list/watch protocol is read by <see cref="ResourceReflector"/>.
/// </summary>
internal sealed class KubernetesApiClient : IDisposable
{
    private const int MaxErrorBodyBytes = 64 * 1024;
    private static readonly ProductInfoHeaderValue UserAgent = new("ambient-daemon", "1.0");

    private readonly HttpClient _http;
    private readonly k8s.Authentication.ServiceClientCredentials? _credentials;
    private readonly Version _httpVersion;

    public KubernetesApiClient(k8s.KubernetesClientConfiguration configuration)
    {
        if (string.IsNullOrWhiteSpace(configuration.Host)) throw new k8s.Exceptions.KubeConfigException("Host url must be set");
        if (!Uri.TryCreate(configuration.Host, UriKind.Absolute, out var baseUri))
            throw new k8s.Exceptions.KubeConfigException($"Bad host url: {configuration.Host}");
        BaseUri = baseUri;
        var handler = new SocketsHttpHandler
        {
            KeepAlivePingPolicy = HttpKeepAlivePingPolicy.WithActiveRequests,
            KeepAlivePingDelay = TimeSpan.FromMinutes(3),
            KeepAlivePingTimeout = TimeSpan.FromSeconds(30),
        };
        handler.SslOptions.ClientCertificates = [];
        if (baseUri.Scheme == Uri.UriSchemeHttps)
        {
            if (configuration.SkipTlsVerify)
            {
                handler.SslOptions.RemoteCertificateValidationCallback = static (_, _, _, _) => true;
            }
            else
            {
                var caCerts = configuration.SslCaCerts
                    ?? throw new k8s.Exceptions.KubeConfigException("the cluster has no certificate-authority: set one or insecure-skip-tls-verify");
                // As client-go: only the kubeconfig's CA is trusted, and the certificate must name the server.
                // (KubernetesClient's own callback accepts any certificate its CA signed, for any name.)
                handler.SslOptions.RemoteCertificateValidationCallback = (_, certificate, chain, errors) =>
                    IsApiServerCertificate(certificate, chain, errors, caCerts);
            }
        }
        _credentials = k8s.Kubernetes.CreateCredentials(configuration);
        if (ClientCertificate(configuration) is { } clientCertificate) handler.SslOptions.ClientCertificates.Add(clientCertificate);
        _http = new HttpClient(handler) { Timeout = Timeout.InfiniteTimeSpan };
        // HTTP/2 (negotiated by ALPN over TLS) multiplexes all watches on one connection; plain http stays HTTP/1.1.
        _httpVersion = configuration.DisableHttp2 ? HttpVersion.Version11 : HttpVersion.Version20;
    }

    public Uri BaseUri { get; }

    private static bool IsApiServerCertificate(X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors, X509Certificate2Collection caCerts)
    {
        if (certificate is not X509Certificate2 leaf || chain is null) return false;
        if ((errors & (SslPolicyErrors.RemoteCertificateNameMismatch | SslPolicyErrors.RemoteCertificateNotAvailable)) != 0) return false;
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Clear();
        chain.ChainPolicy.CustomTrustStore.AddRange(caCerts);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.ApplicationPolicy.Add(new Oid("1.3.6.1.5.5.7.3.1")); // serverAuth
        return chain.Build(leaf);
    }

    /// <summary>The kubeconfig's client certificate and key (inline base64 PEM or files), or null without one.</summary>
    internal static X509Certificate2? ClientCertificate(k8s.KubernetesClientConfiguration configuration)
    {
        var certificate = Pem(configuration.ClientCertificateData, configuration.ClientCertificateFilePath);
        var key = Pem(configuration.ClientCertificateKeyData, configuration.ClientKeyFilePath);
        if (certificate is null && key is null) return null;
        if (key is null) throw new k8s.Exceptions.KubeConfigException("client-certificate is set but client-key is missing");
        if (certificate is null) throw new k8s.Exceptions.KubeConfigException("client-key is set but client-certificate is missing");
        try
        {
            return X509Certificate2.CreateFromPem(certificate, key);
        }
        catch (CryptographicException e)
        {
            throw new k8s.Exceptions.KubeConfigException($"client certificate or key: {e.Message}");
        }
    }

    private static string? Pem(string? base64, string? path) =>
        !string.IsNullOrEmpty(base64) ? Encoding.UTF8.GetString(Convert.FromBase64String(base64))
        : !string.IsNullOrEmpty(path) ? File.ReadAllText(path)
        : null;

    /// <summary>Sends a GET for <paramref name="relativeUri"/> and returns once headers arrived; throws <see cref="KubernetesApiException"/> for non-2xx.</summary>
    public async Task<HttpResponseMessage> GetAsync(string relativeUri, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(BaseUri, relativeUri))
        {
            Version = _httpVersion,
            VersionPolicy = HttpVersionPolicy.RequestVersionOrLower,
        };
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
        request.Headers.UserAgent.Add(UserAgent);
        if (_credentials is not null)
        {
            await _credentials.ProcessHttpRequestAsync(request, cancellationToken).ConfigureAwait(false);
        }
        var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
        if (response.IsSuccessStatusCode) return response;
        using (response)
        {
            throw await ToExceptionAsync(response, cancellationToken).ConfigureAwait(false);
        }
    }

    private static async Task<KubernetesApiException> ToExceptionAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        var code = (int)response.StatusCode;
        byte[] body;
        try
        {
            await using var stream = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
            var buffer = new MemoryStream();
            var chunk = new byte[8192];
            int read;
            while (buffer.Length < MaxErrorBodyBytes && (read = await stream.ReadAsync(chunk, cancellationToken).ConfigureAwait(false)) > 0)
            {
                buffer.Write(chunk, 0, read);
            }
            body = buffer.ToArray();
        }
        catch (Exception e) when (e is IOException or HttpRequestException)
        {
            body = [];
        }
        return FromStatus(body, code, response.ReasonPhrase ?? "");
    }

    /// <summary>Reads a Kubernetes <c>Status</c> object (from an error body or an ERROR watch event).</summary>
    internal static KubernetesApiException FromStatus(ReadOnlySpan<byte> json, int fallbackCode, string fallbackReason)
    {
        try
        {
            var reader = new Utf8JsonReader(json);
            var status = JsonElement.ParseValue(ref reader);
            return FromStatus(status, fallbackCode, fallbackReason);
        }
        catch (JsonException)
        {
            var text = Encoding.UTF8.GetString(json[..Math.Min(json.Length, 512)]).Trim();
            return new KubernetesApiException(fallbackCode, fallbackReason, text.Length == 0 ? "(no body)" : text);
        }
    }

    internal static KubernetesApiException FromStatus(JsonElement status, int fallbackCode, string fallbackReason)
    {
        var code = status.ValueKind == JsonValueKind.Object && status.TryGetProperty("code", out var c) && c.TryGetInt32(out var parsed)
            ? parsed
            : fallbackCode;
        var reason = CachedObject.Text(status, "reason") ?? fallbackReason;
        var message = CachedObject.Text(status, "message") ?? "(no message)";
        return new KubernetesApiException(code, reason, message);
    }

    public void Dispose() => _http.Dispose();
}

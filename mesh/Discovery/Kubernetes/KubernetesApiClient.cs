using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace Ambient.Discovery.Kubernetes;

/// <summary>
/// GET requests to the API server through KubernetesClient's transport: its HttpClient (server CA or skip-verify, client
/// certificates, HTTP/2 keep-alive pings) and its credentials (bearer token, refreshed service-account token file, exec
/// plugin, basic auth). Responses are handed back raw; the list/watch protocol is read by <see cref="ResourceReflector"/>.
/// </summary>
internal sealed class KubernetesApiClient : IDisposable
{
    private const int MaxErrorBodyBytes = 64 * 1024;
    private static readonly ProductInfoHeaderValue UserAgent = new("ambient-daemon", "1.0");

    private readonly k8s.Kubernetes _client;
    private readonly Version _httpVersion;

    public KubernetesApiClient(k8s.KubernetesClientConfiguration configuration)
    {
        _client = new k8s.Kubernetes(configuration);
        // HTTP/2 (negotiated by ALPN over TLS) multiplexes all watches on one connection; plain http stays HTTP/1.1.
        _httpVersion = configuration.DisableHttp2 ? HttpVersion.Version11 : HttpVersion.Version20;
    }

    public Uri BaseUri => _client.BaseUri;

    /// <summary>Sends a GET for <paramref name="relativeUri"/> and returns once headers arrived; throws <see cref="KubernetesApiException"/> for non-2xx.</summary>
    public async Task<HttpResponseMessage> GetAsync(string relativeUri, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(_client.BaseUri, relativeUri))
        {
            Version = _httpVersion,
            VersionPolicy = HttpVersionPolicy.RequestVersionOrLower,
        };
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
        request.Headers.UserAgent.Add(UserAgent);
        if (_client.Credentials is { } credentials)
        {
            await credentials.ProcessHttpRequestAsync(request, cancellationToken).ConfigureAwait(false);
        }
        var response = await _client.HttpClient.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
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

    public void Dispose() => _client.Dispose();
}

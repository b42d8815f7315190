using System.Net;
using System.Net.Sockets;
using System.Text.Json;

namespace Ambient.Ctl;

/// <summary>An answer of the admin API: the body as the daemon wrote it (for <c>-o json</c>) and parsed.</summary>
public sealed class AdminAnswer(string text, JsonDocument document) : IDisposable
{
    public string Text { get; } = text;
    public JsonElement Root => document.RootElement;
    public void Dispose() => document.Dispose();
}

/// <summary>The daemon could not be reached at all (nothing listens, wrong address, timed out).</summary>
public sealed class AdminUnreachableException(IPEndPoint admin, string reason) : Exception(
    $"cannot reach the daemon's admin API at {admin}: {reason}. Is ambient-daemon running on this node (in this " +
    $"network namespace)? Point at another with --admin ADDR:PORT or {CommandLine.AdminEnvironmentVariable}.");

/// <summary>The daemon refused the request (4xx) and said why.</summary>
public sealed class AdminRequestException(int status, string message) : Exception(message)
{
    public int Status { get; } = status;
}

/// <summary>Something answered, but not as the admin API does (a 5xx, or a body that is not JSON).</summary>
public sealed class AdminProtocolException(string message) : Exception(message);

/// <summary>
/// HTTP/1.1 to the daemon's admin API. The API answers JSON everywhere, errors as <c>{"error": "..."}</c>; this
/// turns them into the exceptions above so verbs only handle success.
/// </summary>
public sealed class AdminClient : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);
    private readonly HttpClient _http;

    public AdminClient(IPEndPoint admin)
    {
        Admin = admin;
        // No proxy: the admin API is on loopback of this network namespace, and an http_proxy meant for the
        // outside world would otherwise receive (and fail) the request.
        _http = new HttpClient(new SocketsHttpHandler { UseProxy = false }) { Timeout = Timeout };
    }

    public IPEndPoint Admin { get; }

    public Task<AdminAnswer> GetAsync(string pathAndQuery) => SendAsync(HttpMethod.Get, pathAndQuery);

    public Task<AdminAnswer> PostAsync(string pathAndQuery) => SendAsync(HttpMethod.Post, pathAndQuery);

    private async Task<AdminAnswer> SendAsync(HttpMethod method, string pathAndQuery)
    {
        var uri = new Uri($"http://{Admin}{pathAndQuery}");
        HttpResponseMessage response;
        string text;
        try
        {
            response = await _http.SendAsync(new HttpRequestMessage(method, uri));
            text = await response.Content.ReadAsStringAsync();
        }
        catch (HttpRequestException e)
        {
            throw new AdminUnreachableException(Admin, (e.InnerException as SocketException)?.Message ?? e.Message);
        }
        catch (TaskCanceledException)
        {
            throw new AdminUnreachableException(Admin, $"no answer within {Timeout.TotalSeconds:0} s");
        }

        using (response)
        {
            JsonDocument document;
            try
            {
                document = JsonDocument.Parse(text);
            }
            catch (JsonException)
            {
                throw new AdminProtocolException($"{Admin} answered {(int)response.StatusCode} with a body that is not JSON; is it the daemon's admin API?");
            }
            int status = (int)response.StatusCode;
            if (status is >= 200 and < 300)
                return new AdminAnswer(text, document);
            using (document)
            {
                var message = document.RootElement.ValueKind == JsonValueKind.Object
                    && document.RootElement.TryGetProperty("error", out var error) && error.ValueKind == JsonValueKind.String
                        ? error.GetString()!
                        : $"HTTP {status}";
                throw status is >= 400 and < 500
                    ? new AdminRequestException(status, message)
                    : new AdminProtocolException($"the daemon failed: {message} (HTTP {status})");
            }
        }
    }

    public void Dispose() => _http.Dispose();
}

using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.Logging;

namespace Ambient.Observability.Http;

/// <summary>
/// A deliberately small HTTP/1.1 server for the operator ports (readiness 15021, metrics 15020, admin 15000): one
/// request per connection, request line and headers only (bodies are not read), answers with Connection: close.
/// Small enough to keep the daemon's idle memory low, which a full web stack would not.
/// With <c>loopbackOnly</c> any peer that is not on a loopback address is refused with 403 before its request is read.
/// </summary>
public sealed class LocalHttpServer(IPEndPoint endpoint, Func<LocalHttpRequest, ValueTask<LocalHttpResponse>> handle, ILogger log, string name, bool loopbackOnly = false) : IAsyncDisposable
{
    private const int MaxHeaderBytes = 8 * 1024;
    private static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(5);

    private readonly Socket _listener = new(endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
    private Task? _accept;

    public IPEndPoint EndPoint => (IPEndPoint)_listener.LocalEndPoint!;

    /// <exception cref="SocketException">The address is in use or not local.</exception>
    public void Start()
    {
        _listener.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
        _listener.Bind(endpoint);
        _listener.Listen(128);
        _accept = AcceptLoopAsync();
        log.LogInformation("{Name} listening on {Endpoint}", name, EndPoint);
    }

    private async Task AcceptLoopAsync()
    {
        while (true)
        {
            Socket client;
            try { client = await _listener.AcceptAsync().ConfigureAwait(false); }
            catch (Exception e) when (e is ObjectDisposedException or SocketException) { return; }
            _ = ServeAsync(client);
        }
    }

    private async Task ServeAsync(Socket client)
    {
        using (client)
        {
            try
            {
                var remote = (IPEndPoint)client.RemoteEndPoint!;
                LocalHttpResponse response;
                bool head = false;
                if (loopbackOnly && !IPAddress.IsLoopback(remote.Address.IsIPv4MappedToIPv6 ? remote.Address.MapToIPv4() : remote.Address))
                {
                    log.LogWarning("{Name}: refused a request from {Remote}: only loopback clients are served", name, remote);
                    response = LocalHttpResponse.Error(403, "only loopback clients are served");
                }
                else
                {
                    var line = await ReadRequestLineAsync(client).ConfigureAwait(false);
                    var request = line is null ? null : LocalHttpRequest.ParseRequestLine(line, remote);
                    head = request?.Method == "HEAD";
                    if (request is not null) log.LogDebug("{Name}: {Method} {Path} from {Remote}", name, request.Method, request.Path, remote);
                    response = request is null
                        ? LocalHttpResponse.Error(400, "malformed HTTP/1.1 request")
                        : await HandleSafelyAsync(head ? request with { Method = "GET" } : request).ConfigureAwait(false);
                }
                await WriteAsync(client, response, head).ConfigureAwait(false);
            }
            catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException) { }
        }
    }

    private async ValueTask<LocalHttpResponse> HandleSafelyAsync(LocalHttpRequest request)
    {
        try
        {
            return await handle(request).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            log.LogError(e, "{Name}: {Method} {Path} failed", name, request.Method, request.Path);
            return LocalHttpResponse.Error(500, "internal error: " + e.Message);
        }
    }

    /// <summary>Reads up to the end of the headers and returns the first line; null if too large, cut short or slow.</summary>
    private static async Task<string?> ReadRequestLineAsync(Socket client)
    {
        var buffer = new byte[MaxHeaderBytes];
        int n = 0;
        using var timeout = new CancellationTokenSource(RequestTimeout);
        while (n < buffer.Length)
        {
            int r = await client.ReceiveAsync(buffer.AsMemory(n), SocketFlags.None, timeout.Token).ConfigureAwait(false);
            if (r == 0) return null;
            n += r;
            if (buffer.AsSpan(0, n).IndexOf("\r\n\r\n"u8) >= 0)
            {
                var end = buffer.AsSpan(0, n).IndexOf("\r\n"u8);
                return Encoding.ASCII.GetString(buffer, 0, end);
            }
        }
        return null;
    }

    private static async Task WriteAsync(Socket client, LocalHttpResponse response, bool head)
    {
        var header = $"HTTP/1.1 {response.Status} {Reason(response.Status)}\r\nContent-Type: {response.ContentType}\r\nContent-Length: {response.Body.Length}\r\nConnection: close\r\n\r\n";
        await client.SendAsync(Encoding.ASCII.GetBytes(header), SocketFlags.None).ConfigureAwait(false);
        if (!head && response.Body.Length > 0)
        {
            var body = response.Body;
            while (body.Length > 0)
            {
                int sent = await client.SendAsync(body, SocketFlags.None).ConfigureAwait(false);
                body = body[sent..];
            }
        }
        client.Shutdown(SocketShutdown.Send);
    }

    private static string Reason(int status) => status switch
    {
        200 => "OK",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Status",
    };

    public async ValueTask DisposeAsync()
    {
        _listener.Dispose();
        if (_accept is not null)
            await _accept.ConfigureAwait(false);
    }
}

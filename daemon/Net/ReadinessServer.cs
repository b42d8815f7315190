using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.Logging;

namespace Ambient.Daemon.Net;

/// <summary>
/// Answers <c>GET /healthz/ready</c> with 200 once the daemon serves traffic, 503 before (and while draining).
/// A deliberately tiny HTTP/1.1 responder: one request per connection, no body parsing.
/// </summary>
public sealed class ReadinessServer(IPEndPoint endpoint, Func<bool> isReady, ILogger log) : IAsyncDisposable
{
    private readonly Socket _listener = new(endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
    private Task? _accept;

    public IPEndPoint EndPoint => (IPEndPoint)_listener.LocalEndPoint!;

    public void Start()
    {
        _listener.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
        _listener.Bind(endpoint);
        _listener.Listen(64);
        _accept = AcceptLoopAsync();
        log.LogInformation("readiness listening on {Endpoint}", EndPoint);
    }

    private async Task AcceptLoopAsync()
    {
        while (true)
        {
            Socket client;
            try { client = await _listener.AcceptAsync().ConfigureAwait(false); }
            catch (Exception e) when (e is ObjectDisposedException or SocketException) { return; }
            _ = AnswerAsync(client);
        }
    }

    private async Task AnswerAsync(Socket client)
    {
        using (client)
        {
            try
            {
                var buffer = new byte[2048];
                int n = 0;
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                while (n < buffer.Length)
                {
                    int r = await client.ReceiveAsync(buffer.AsMemory(n), SocketFlags.None, timeout.Token).ConfigureAwait(false);
                    if (r == 0) break;
                    n += r;
                    if (buffer.AsSpan(0, n).IndexOf("\r\n\r\n"u8) >= 0) break;
                }
                var line = Encoding.ASCII.GetString(buffer, 0, n).Split("\r\n")[0].Split(' ');
                var (status, body) = line is ["GET" or "HEAD", var path, ..] ? (path.Split('?')[0] == "/healthz/ready"
                        ? (isReady() ? (200, "ready\n") : (503, "not ready\n"))
                        : (404, "not found\n"))
                    : (400, "bad request\n");
                var reason = status switch { 200 => "OK", 503 => "Service Unavailable", 404 => "Not Found", _ => "Bad Request" };
                var response = $"HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain\r\nContent-Length: {body.Length}\r\nConnection: close\r\n\r\n{(line is ["HEAD", ..] ? "" : body)}";
                await client.SendAsync(Encoding.ASCII.GetBytes(response), SocketFlags.None).ConfigureAwait(false);
            }
            catch (Exception e) when (e is SocketException or OperationCanceledException) { }
        }
    }

    public async ValueTask DisposeAsync()
    {
        _listener.Dispose();
        if (_accept is not null)
            await _accept.ConfigureAwait(false);
    }
}

using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Ambient.Tests.Interop;

/// <summary>
/// A minimal HTTP/1.1 CONNECT proxy on 127.0.0.1, the backend nghttpx forwards CONNECT to in <c>-s</c> mode:
/// reads <c>CONNECT host:port HTTP/1.1</c> and its header lines, dials the target, answers 200 (or 405/400/502),
/// then relays both ways, passing half-closes on. Records each request head it saw.
/// </summary>
public sealed class Http1ConnectProxy : IAsyncDisposable
{
    private const int MaxHead = 16 * 1024;

    private readonly Socket _listener = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentDictionary<Task, bool> _connections = new();
    private readonly Task _accepting;

    public Http1ConnectProxy()
    {
        _listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        _listener.Listen(128);
        EndPoint = (IPEndPoint)_listener.LocalEndPoint!;
        _accepting = AcceptLoopAsync();
    }

    public IPEndPoint EndPoint { get; }

    /// <summary>Request heads received (request line and header lines, without the blank line).</summary>
    public ConcurrentQueue<string> Requests { get; } = new();

    private async Task AcceptLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket socket;
            try { socket = await _listener.AcceptAsync(_stop.Token).ConfigureAwait(false); }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException) { return; }
            var task = ServeAsync(socket);
            _connections[task] = true;
            _ = task.ContinueWith(t => _connections.TryRemove(t, out _), TaskScheduler.Default);
        }
    }

    private async Task ServeAsync(Socket client)
    {
        Socket? upstream = null;
        try
        {
            client.NoDelay = true;
            var (head, rest) = await ReadHeadAsync(client).ConfigureAwait(false);
            if (head is null)
                return;
            Requests.Enqueue(head);
            var requestLine = head.Split("\r\n")[0].Split(' ');
            if (requestLine.Length != 3 || !requestLine[2].StartsWith("HTTP/1.", StringComparison.Ordinal))
            {
                await ReplyAsync(client, "400 Bad Request").ConfigureAwait(false);
                return;
            }
            if (requestLine[0] != "CONNECT")
            {
                await ReplyAsync(client, "405 Method Not Allowed").ConfigureAwait(false);
                return;
            }
            if (!IPEndPoint.TryParse(requestLine[1], out var target) || target.Port == 0)
            {
                await ReplyAsync(client, "400 Bad Request").ConfigureAwait(false);
                return;
            }
            upstream = new Socket(target.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
                timeout.CancelAfter(TimeSpan.FromSeconds(5));
                await upstream.ConnectAsync(target, timeout.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is SocketException or OperationCanceledException)
            {
                await ReplyAsync(client, "502 Bad Gateway").ConfigureAwait(false);
                return;
            }
            await ReplyAsync(client, "200 Connection Established").ConfigureAwait(false);
            if (rest.Length > 0)
                await upstream.SendAsync(rest, SocketFlags.None, _stop.Token).ConfigureAwait(false);
            await Task.WhenAll(PumpAsync(client, upstream), PumpAsync(upstream, client)).ConfigureAwait(false);
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException or IOException) { }
        finally
        {
            upstream?.Dispose();
            client.Dispose();
        }
    }

    /// <summary>Reads up to the blank line; returns the head and any bytes that followed it.</summary>
    private async Task<(string? Head, byte[] Remainder)> ReadHeadAsync(Socket socket)
    {
        var buffer = new byte[MaxHead];
        int length = 0;
        while (length < buffer.Length)
        {
            int n = await socket.ReceiveAsync(buffer.AsMemory(length), SocketFlags.None, _stop.Token).ConfigureAwait(false);
            if (n == 0)
                return (null, []);
            length += n;
            int end = buffer.AsSpan(0, length).IndexOf("\r\n\r\n"u8);
            if (end >= 0)
                return (Encoding.ASCII.GetString(buffer, 0, end), buffer[(end + 4)..length]);
        }
        await ReplyAsync(socket, "431 Request Header Fields Too Large").ConfigureAwait(false);
        return (null, []);
    }

    private async Task ReplyAsync(Socket socket, string status)
    {
        var bytes = Encoding.ASCII.GetBytes($"HTTP/1.1 {status}\r\n" + (status.StartsWith("200", StringComparison.Ordinal) ? "" : "Content-Length: 0\r\nConnection: close\r\n") + "\r\n");
        await socket.SendAsync(bytes, SocketFlags.None, _stop.Token).ConfigureAwait(false);
    }

    /// <summary>Copies one direction; EOF becomes a half-close of the other socket, an error closes both.</summary>
    private async Task PumpAsync(Socket from, Socket to)
    {
        var buffer = new byte[64 * 1024];
        try
        {
            while (true)
            {
                int n = await from.ReceiveAsync(buffer, SocketFlags.None, _stop.Token).ConfigureAwait(false);
                if (n == 0)
                {
                    to.Shutdown(SocketShutdown.Send);
                    return;
                }
                int sent = 0;
                while (sent < n)
                    sent += await to.SendAsync(buffer.AsMemory(sent, n - sent), SocketFlags.None, _stop.Token).ConfigureAwait(false);
            }
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException)
        {
            from.Dispose();
            to.Dispose();
        }
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _listener.Dispose();
        await _accepting.ConfigureAwait(false);
        await Task.WhenAll(_connections.Keys).WaitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
        _stop.Dispose();
    }
}

using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Logging;

namespace Ambient.Tests.Waypoint;

/// <summary>
/// An application behind the waypoint, one per backend workload: HTTP/1.1 on :8080 and HTTP/2 (h2c, gRPC) on :9090.
/// Answers with its version and offers the behaviours the L7 tests need: flaky (every other request 503), slow
/// (<c>/slow</c> 2 s, <c>/hold</c> 500 ms, <c>/sleep?ms=N</c>),
/// always failing, header echo, a chunked answer (<c>/chunked</c>), WebSocket echo, and a minimal gRPC service (unary and server streaming).
/// Request bodies: <c>/echo-digest</c> answers <c>length:sha256</c> of the body it read, <c>/flaky-echo</c> does
/// the same but answers 503 to every other request (after reading the body), <c>/flaky-early</c> answers 503 to
/// every other request without reading it, and <c>/mirror-echo</c> also records each digest it saw
/// (<see cref="Digests"/>). gRPC: <c>Flaky</c> (unary, every other call HTTP 503), <c>Collect</c> (client
/// streaming: answers <c>count:bytes</c>, every other call HTTP 503 after reading all) and <c>Chat</c> (duplex echo).
/// <see cref="Http1Connections"/> and <see cref="Http2Connections"/> count the TCP connections open on each port.
/// </summary>
public sealed class MeshHttpApp : IAsyncDisposable
{
    private readonly WebApplication _app;
    private int _flaky;
    private int _flakyEcho;
    private int _flakyEarly;
    private int _flakyGrpc;
    private int _flakyCollect;
    private int _requests;

    private MeshHttpApp(WebApplication app, string version, ConnectionCounter http1Connections, ConnectionCounter http2Connections)
    {
        _app = app;
        Version = version;
        Http1Connections = http1Connections;
        Http2Connections = http2Connections;
    }

    /// <summary>TCP connections to the HTTP/1.1 port (8080): open now and the most open at once.</summary>
    public ConnectionCounter Http1Connections { get; }

    /// <summary>TCP connections to the HTTP/2 port (9090).</summary>
    public ConnectionCounter Http2Connections { get; }

    /// <summary><c>length:sha256</c> of each body <c>/mirror-echo</c> received, with its Host and Content-Type.</summary>
    public ConcurrentQueue<(string Digest, string Host, string? ContentType)> Digests { get; } = new();

    public string Version { get; }
    public int Requests => Volatile.Read(ref _requests);

    /// <summary>Forgets what earlier tests did (counters and the flaky alternation) when one application serves many tests.</summary>
    public void Reset()
    {
        Volatile.Write(ref _requests, 0);
        Volatile.Write(ref _flaky, 0);
        Volatile.Write(ref _flakyEcho, 0);
        Volatile.Write(ref _flakyEarly, 0);
        Volatile.Write(ref _flakyGrpc, 0);
        Volatile.Write(ref _flakyCollect, 0);
        Digests.Clear();
        LastHost = "";
    }
    public int Concurrent;
    public string LastHost { get; private set; } = "";

    /// <summary>Listens on <paramref name="address"/> in the test process's own network namespace.</summary>
    public static Task<MeshHttpApp> StartAsync(IPAddress address, string version) =>
        StartAsync(version, (k, port, configure) => k.Listen(address, port, configure));

    /// <summary>
    /// Listens on sockets made by <paramref name="listenSocket"/> (port → bound, listening socket): a pod's network
    /// namespace is fixed when its socket is created, so the test bed creates them and Kestrel adopts their handles.
    /// </summary>
    public static Task<MeshHttpApp> StartAsync(string version, Func<int, Socket> listenSocket) =>
        StartAsync(version, (k, port, configure) =>
        {
            var socket = listenSocket(port);
            var handle = (ulong)socket.SafeHandle.DangerousGetHandle();
            socket.SafeHandle.SetHandleAsInvalid(); // Kestrel owns the descriptor now; ours must not close it
            k.ListenHandle(handle, configure);
        });

    private static async Task<MeshHttpApp> StartAsync(string version, Action<KestrelServerOptions, int, Action<ListenOptions>> listen)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        var http1Connections = new ConnectionCounter();
        var http2Connections = new ConnectionCounter();
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.Limits.MaxRequestBodySize = null;
            listen(k, 8080, l =>
            {
                l.Protocols = HttpProtocols.Http1;
                l.Use(http1Connections.Count);
            });
            listen(k, 9090, l =>
            {
                l.Protocols = HttpProtocols.Http2;
                l.Use(http2Connections.Count);
            });
        });
        var app = builder.Build();
        var self = new MeshHttpApp(app, version, http1Connections, http2Connections);
        app.UseWebSockets();
        app.Run(self.HandleAsync);
        await app.StartAsync();
        return self;
    }

    private async Task HandleAsync(HttpContext context)
    {
        Interlocked.Increment(ref _requests);
        Interlocked.Increment(ref Concurrent);
        LastHost = context.Request.Host.Value ?? "";
        try
        {
            var response = context.Response;
            response.Headers["x-version"] = Version;
            var path = context.Request.Path.Value ?? "/";
            if (path.StartsWith("/test.Echo/", StringComparison.Ordinal))
            {
                await GrpcAsync(context, path);
                return;
            }
            switch (path)
            {
                case "/echo-digest":
                    await response.WriteAsync(await DigestAsync(context.Request.Body, context.RequestAborted));
                    return;
                case "/flaky-echo":
                {
                    var digest = await DigestAsync(context.Request.Body, context.RequestAborted);
                    if (Interlocked.Increment(ref _flakyEcho) % 2 == 1)
                    {
                        response.StatusCode = 503;
                        return;
                    }
                    await response.WriteAsync(digest);
                    return;
                }
                case "/flaky-early":
                    if (Interlocked.Increment(ref _flakyEarly) % 2 == 1)
                    {
                        response.StatusCode = 503; // the body is left unread
                        return;
                    }
                    await response.WriteAsync(await DigestAsync(context.Request.Body, context.RequestAborted));
                    return;
                case "/mirror-echo":
                {
                    var digest = await DigestAsync(context.Request.Body, context.RequestAborted);
                    Digests.Enqueue((digest, context.Request.Host.Value ?? "", context.Request.ContentType));
                    await response.WriteAsync(digest);
                    return;
                }
                case "/flaky":
                    if (Interlocked.Increment(ref _flaky) % 2 == 1)
                    {
                        response.StatusCode = 503;
                        return;
                    }
                    break;
                case "/slow":
                    await Task.Delay(2000, context.RequestAborted);
                    break;
                case "/hold":
                    await Task.Delay(500, context.RequestAborted);
                    break;
                case "/sleep": // ?ms=N
                    await Task.Delay(int.Parse(context.Request.Query["ms"].ToString(), System.Globalization.CultureInfo.InvariantCulture), context.RequestAborted);
                    break;
                case "/chunked": // the version twice, flushed between: a body without Content-Length
                    await response.WriteAsync(Version);
                    await response.Body.FlushAsync(context.RequestAborted);
                    await response.WriteAsync(Version);
                    return;
                case "/fail":
                    response.StatusCode = 500;
                    return;
                case "/v2-fails" when Version == "v2":
                    response.StatusCode = 500;
                    return;
                case "/headers":
                    var text = new StringBuilder();
                    foreach (var (name, value) in context.Request.Headers) text.Append(name.ToLowerInvariant()).Append(": ").Append(value.ToString()).Append('\n');
                    await response.WriteAsync(text.ToString());
                    return;
                case "/ws" when context.WebSockets.IsWebSocketRequest:
                    using (var socket = await context.WebSockets.AcceptWebSocketAsync())
                        await EchoAsync(socket, context.RequestAborted);
                    return;
            }
            await response.WriteAsync(Version);
        }
        finally
        {
            Interlocked.Decrement(ref Concurrent);
        }
    }

    /// <summary><c>length:sha256-hex</c> of a whole body.</summary>
    public static async Task<string> DigestAsync(Stream body, CancellationToken ct)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = new byte[16 * 1024];
        long length = 0;
        int read;
        while ((read = await body.ReadAsync(buffer, ct)) > 0)
        {
            hash.AppendData(buffer, 0, read);
            length += read;
        }
        return $"{length}:{Convert.ToHexStringLower(hash.GetHashAndReset())}";
    }

    /// <summary>gRPC wire format by hand (5-byte length prefix, trailers): Unary echoes "version:msg"; Stream sends 5 messages.</summary>
    private async Task GrpcAsync(HttpContext context, string path)
    {
        var response = context.Response;
        switch (path)
        {
            case "/test.Echo/Collect":
            {
                int messages = 0;
                long bytes = 0;
                while (await ReadMessageOrEndAsync(context.Request.Body, context.RequestAborted) is { } message)
                {
                    messages++;
                    bytes += Encoding.UTF8.GetByteCount(message);
                }
                if (Interlocked.Increment(ref _flakyCollect) % 2 == 1)
                {
                    response.StatusCode = 503;
                    return;
                }
                response.ContentType = "application/grpc";
                await WriteMessageAsync(response.Body, Encoding.UTF8.GetBytes($"{messages}:{bytes}"), context.RequestAborted);
                response.AppendTrailer("grpc-status", "0");
                return;
            }
            case "/test.Echo/Chat":
                response.ContentType = "application/grpc";
                await response.StartAsync(context.RequestAborted);
                while (await ReadMessageOrEndAsync(context.Request.Body, context.RequestAborted) is { } said)
                {
                    await WriteMessageAsync(response.Body, Encoding.UTF8.GetBytes($"{Version}:{said}"), context.RequestAborted);
                    await response.Body.FlushAsync(context.RequestAborted);
                }
                response.AppendTrailer("grpc-status", "0");
                return;
        }
        var request = await ReadMessageAsync(context.Request.Body, context.RequestAborted);
        if (path == "/test.Echo/Flaky" && Interlocked.Increment(ref _flakyGrpc) % 2 == 1)
        {
            response.StatusCode = 503;
            return;
        }
        response.ContentType = "application/grpc";
        int count = path.EndsWith("/Stream", StringComparison.Ordinal) ? 5 : 1;
        for (int i = 0; i < count; i++)
        {
            await WriteMessageAsync(response.Body, Encoding.UTF8.GetBytes(count == 1 ? $"{Version}:{request}" : $"{Version}:{request}:{i}"), context.RequestAborted);
            await response.Body.FlushAsync(context.RequestAborted);
        }
        response.AppendTrailer("grpc-status", "0");
    }

    private static async Task<string> ReadMessageAsync(Stream body, CancellationToken ct)
    {
        var header = new byte[5];
        await body.ReadExactlyAsync(header, ct);
        var payload = new byte[BinaryPrimitives.ReadUInt32BigEndian(header.AsSpan(1))];
        await body.ReadExactlyAsync(payload, ct);
        return Encoding.UTF8.GetString(payload);
    }

    /// <summary>The next length-prefixed message, or null at the end of the request stream.</summary>
    private static async Task<string?> ReadMessageOrEndAsync(Stream body, CancellationToken ct)
    {
        var header = new byte[5];
        if (await body.ReadAtLeastAsync(header, 5, throwOnEndOfStream: false, ct) < 5) return null;
        var payload = new byte[BinaryPrimitives.ReadUInt32BigEndian(header.AsSpan(1))];
        await body.ReadExactlyAsync(payload, ct);
        return Encoding.UTF8.GetString(payload);
    }

    private static async Task WriteMessageAsync(Stream body, byte[] payload, CancellationToken ct)
    {
        var header = new byte[5];
        BinaryPrimitives.WriteUInt32BigEndian(header.AsSpan(1), (uint)payload.Length);
        await body.WriteAsync(header, ct);
        await body.WriteAsync(payload, ct);
    }

    /// <summary>Echoes every message until the client closes (shared by the test applications).</summary>
    internal static async Task EchoAsync(WebSocket socket, CancellationToken ct)
    {
        var buffer = new byte[64 * 1024];
        while (true)
        {
            var result = await socket.ReceiveAsync(buffer, ct);
            if (result.MessageType == WebSocketMessageType.Close)
            {
                await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "bye", ct);
                return;
            }
            await socket.SendAsync(buffer.AsMemory(0, result.Count), result.MessageType, result.EndOfMessage, ct);
        }
    }

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();
}

/// <summary>Counts the TCP connections a Kestrel endpoint has open (a connection middleware).</summary>
public sealed class ConnectionCounter
{
    private int _open;
    private int _max;

    public int Open => Volatile.Read(ref _open);
    public int Max => Volatile.Read(ref _max);

    /// <summary>Starts a new observation: the maximum restarts from what is open now.</summary>
    public void ResetMax() => Volatile.Write(ref _max, Open);

    public ConnectionDelegate Count(ConnectionDelegate next) => async connection =>
    {
        int open = Interlocked.Increment(ref _open);
        int max;
        while (open > (max = Volatile.Read(ref _max)) && Interlocked.CompareExchange(ref _max, open, max) != max)
        {
        }
        try
        {
            await next(connection);
        }
        finally
        {
            Interlocked.Decrement(ref _open);
        }
    };
}

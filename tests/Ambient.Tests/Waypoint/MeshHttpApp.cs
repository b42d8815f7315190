using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Logging;

namespace Ambient.Tests.Waypoint;

/// <summary>
/// An application behind the waypoint, one per backend workload: HTTP/1.1 on :8080 and HTTP/2 (h2c, gRPC) on :9090.
/// Answers with its version and offers the behaviours the L7 tests need: flaky (every other request 503), slow,
/// always failing, header echo, WebSocket echo, and a minimal gRPC service (unary and server streaming).
/// </summary>
public sealed class MeshHttpApp : IAsyncDisposable
{
    private readonly WebApplication _app;
    private int _flaky;
    private int _requests;

    private MeshHttpApp(WebApplication app, string version)
    {
        _app = app;
        Version = version;
    }

    public string Version { get; }
    public int Requests => Volatile.Read(ref _requests);

    /// <summary>Forgets what earlier tests did (counters and the flaky alternation) when one application serves many tests.</summary>
    public void Reset()
    {
        Volatile.Write(ref _requests, 0);
        Volatile.Write(ref _flaky, 0);
        LastHost = "";
    }
    public int Concurrent;
    public string LastHost { get; private set; } = "";

    /// <summary>Listens on <paramref name="address"/> in the test process's own network namespace.</summary>
    public static Task<MeshHttpApp> StartAsync(IPAddress address, string version) =>
        StartAsync(version, (k, port, protocols) => k.Listen(address, port, l => l.Protocols = protocols));

    /// <summary>
    /// Listens on sockets made by <paramref name="listenSocket"/> (port → bound, listening socket): a pod's network
    /// namespace is fixed when its socket is created, so the test bed creates them and Kestrel adopts their handles.
    /// </summary>
    public static Task<MeshHttpApp> StartAsync(string version, Func<int, Socket> listenSocket) =>
        StartAsync(version, (k, port, protocols) =>
        {
            var socket = listenSocket(port);
            var handle = (ulong)socket.SafeHandle.DangerousGetHandle();
            socket.SafeHandle.SetHandleAsInvalid(); // Kestrel owns the descriptor now; ours must not close it
            k.ListenHandle(handle, l => l.Protocols = protocols);
        });

    private static async Task<MeshHttpApp> StartAsync(string version, Action<KestrelServerOptions, int, HttpProtocols> listen)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k =>
        {
            listen(k, 8080, HttpProtocols.Http1);
            listen(k, 9090, HttpProtocols.Http2);
        });
        var app = builder.Build();
        var self = new MeshHttpApp(app, version);
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

    /// <summary>gRPC wire format by hand (5-byte length prefix, trailers): Unary echoes "version:msg"; Stream sends 5 messages.</summary>
    private async Task GrpcAsync(HttpContext context, string path)
    {
        var request = await ReadMessageAsync(context.Request.Body, context.RequestAborted);
        var response = context.Response;
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

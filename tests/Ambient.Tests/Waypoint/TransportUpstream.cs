using System.Collections.Concurrent;
using System.Net;
using System.Net.WebSockets;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Ambient.Tests.Waypoint;

/// <summary>
/// The application behind the destination pod: plain Kestrel on loopback, one HTTP/1.1 port and one h2c port
/// (Kestrel takes prior-knowledge HTTP/2 only on an Http2-only cleartext endpoint). It reports what it saw in
/// response headers (protocol, Host, X-Forwarded-For) so tests can check what crossed the waypoint.
/// </summary>
public sealed class TransportUpstream : IAsyncDisposable
{
    private readonly WebApplication _app;

    private TransportUpstream(WebApplication app, IPEndPoint http1, IPEndPoint http2)
    {
        _app = app;
        Http1 = http1;
        Http2 = http2;
    }

    public IPEndPoint Http1 { get; private set; }
    public IPEndPoint Http2 { get; private set; }

    /// <summary><c>/hang?id=X</c> requests: started when the application has the request, completed when it was aborted.</summary>
    public ConcurrentDictionary<string, (TaskCompletionSource Started, TaskCompletionSource Aborted)> Hanging { get; } = new();

    public (TaskCompletionSource Started, TaskCompletionSource Aborted) Hang(string id)
        => Hanging.GetOrAdd(id, _ => (new(TaskCreationOptions.RunContinuationsAsynchronously), new(TaskCreationOptions.RunContinuationsAsynchronously)));

    public static async Task<TransportUpstream> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.Listen(IPAddress.Loopback, 0, l => l.Protocols = HttpProtocols.Http1);
            k.Listen(IPAddress.Loopback, 0, l => l.Protocols = HttpProtocols.Http2);
        });
        var app = builder.Build();
        app.UseWebSockets();
        var upstream = new TransportUpstream(app, null!, null!);
        app.Run(upstream.HandleAsync);
        await app.StartAsync();
        // Addresses are listed in Listen order.
        var ports = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Select(a => new Uri(a).Port).ToArray();
        upstream.Http1 = new IPEndPoint(IPAddress.Loopback, ports[0]);
        upstream.Http2 = new IPEndPoint(IPAddress.Loopback, ports[1]);
        return upstream;
    }

    private async Task HandleAsync(HttpContext context)
    {
        var response = context.Response;
        response.Headers["x-upstream-protocol"] = context.Request.Protocol;
        response.Headers["x-upstream-host"] = context.Request.Host.Value;
        response.Headers["x-upstream-xff"] = context.Request.Headers["X-Forwarded-For"].ToString();
        switch (context.Request.Path.Value)
        {
            case "/echo":
                response.Headers["x-request-length"] = context.Request.ContentLength?.ToString() ?? "";
                await context.Request.Body.CopyToAsync(response.Body, context.RequestAborted);
                break;
            case "/stream":
                // gRPC-shaped: a streamed body in pieces, then trailers (HTTP/2 only).
                response.ContentType = "application/grpc";
                for (int i = 0; i < 5; i++)
                {
                    await response.WriteAsync($"chunk{i};", context.RequestAborted);
                    await response.Body.FlushAsync(context.RequestAborted);
                    await Task.Delay(20, context.RequestAborted);
                }
                response.AppendTrailer("grpc-status", "0");
                response.AppendTrailer("grpc-message", "done");
                break;
            case "/hang":
                var (started, aborted) = Hang(context.Request.Query["id"].ToString());
                await response.Body.FlushAsync(); // headers out: the client is now waiting for a body that never comes
                started.TrySetResult();
                try
                {
                    await Task.Delay(Timeout.Infinite, context.RequestAborted);
                }
                catch (OperationCanceledException)
                {
                    aborted.TrySetResult();
                }
                break;
            case "/ws" when context.WebSockets.IsWebSocketRequest:
                using (var socket = await context.WebSockets.AcceptWebSocketAsync())
                    await MeshHttpApp.EchoAsync(socket, context.RequestAborted);
                break;
            default:
                response.StatusCode = 404;
                break;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}

using System.Net.Sockets;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Logging;

namespace Ambient.Tests.Waypoint;

/// <summary>
/// The receiving end of OTLP/gRPC trace export, enough for the SDK's exporter to succeed: it keeps each
/// ExportTraceServiceRequest (protobuf, undecoded) and answers an empty ExportTraceServiceResponse. No collector
/// package is available on these machines; the exporter on the other side is the real OpenTelemetry SDK.
/// </summary>
public sealed class OtlpCollector : IAsyncDisposable
{
    private const string ExportPath = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";
    private readonly WebApplication _app;
    private readonly List<byte[]> _exports = [];

    private OtlpCollector(WebApplication app) => _app = app;

    /// <summary>The export requests received so far (each the protobuf message without its gRPC prefix).</summary>
    public IReadOnlyList<byte[]> Exports { get { lock (_exports) return _exports.ToArray(); } }

    /// <summary>Serves on <paramref name="listenSocket"/> (bound and listening; Kestrel takes over its descriptor).</summary>
    public static async Task<OtlpCollector> StartAsync(Socket listenSocket)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        var handle = (ulong)listenSocket.SafeHandle.DangerousGetHandle();
        listenSocket.SafeHandle.SetHandleAsInvalid();
        builder.WebHost.ConfigureKestrel(k => k.ListenHandle(handle, l => l.Protocols = HttpProtocols.Http2));
        var app = builder.Build();
        var self = new OtlpCollector(app);
        app.Run(self.HandleAsync);
        await app.StartAsync();
        return self;
    }

    private async Task HandleAsync(HttpContext context)
    {
        if (context.Request.Path != ExportPath)
        {
            context.Response.StatusCode = 404;
            return;
        }
        var body = new MemoryStream();
        await context.Request.Body.CopyToAsync(body, context.RequestAborted);
        var message = body.ToArray();
        lock (_exports) _exports.Add(message.Length >= 5 ? message[5..] : message);
        context.Response.ContentType = "application/grpc";
        await context.Response.Body.WriteAsync(new byte[5], context.RequestAborted); // an empty response message
        context.Response.AppendTrailer("grpc-status", "0");
    }

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();
}

using System.Collections.Concurrent;
using System.Net;
using System.Net.Http;
using System.Text.Json;
using Ambient.Hbone;
using Ambient.Identity;
using Ambient.Tests.Interop;
using Ambient.Tests.Support;
using Ambient.Waypoint.Forwarding;
using Ambient.Waypoint.Transport;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Yarp.ReverseProxy.Forwarder;

namespace Ambient.Tests.Waypoint;

/// <summary>
/// The whole data path on loopback with real sockets and TLS: a client workload opens HBONE tunnels to the waypoint
/// (Kestrel over <see cref="HboneTransportFactory"/>), which forwards with <see cref="HboneForwarder"/> over HBONE to
/// a destination HBONE server (the daemon's inbound behaviour) in front of <see cref="TransportUpstream"/>.
/// </summary>
public sealed class TransportStack : IAsyncLifetime
{
    public const string TrustDomain = "cluster.local";
    public static readonly SpiffeId ClientId = new(TrustDomain, "default", "sleep");
    public static readonly SpiffeId WaypointId = new(TrustDomain, "default", "waypoint");
    public static readonly SpiffeId DestinationId = new(TrustDomain, "default", "echo");

    /// <summary>The service VIP and port the client "dialled": the CONNECT target to the waypoint.</summary>
    public static readonly IPEndPoint Vip = new(IPAddress.Parse("10.96.0.10"), 80);
    public static readonly IPEndPoint ClientAddress = new(IPAddress.Parse("10.244.1.7"), 40123);
    public const string ServiceHost = "echo.default.svc.cluster.local";

    private readonly MeshCa _ca = MeshCa.Create();
    private WebApplication _waypoint = null!;
    private HboneClient _waypointHbone = null!;
    private HttpMessageInvoker _upstreamClient = null!;

    public TransportUpstream Upstream { get; private set; } = null!;
    public HboneTestServer Destination { get; private set; } = null!;
    public HboneClient ClientHbone { get; private set; } = null!;
    public IPEndPoint WaypointHbone { get; } = new(TestAddresses.Next(), 15008);

    /// <summary>A plain (socket transport) endpoint of the same Kestrel, e.g. for health checks.</summary>
    public IPEndPoint WaypointPlain { get; } = new(TestAddresses.Next(), 15021);

    /// <summary>The CONNECT target port the waypoint's admission hook refuses with 401 (a stand-in for policy).</summary>
    public const int RefusedPort = 81;

    /// <summary>Forwarding outcomes the waypoint saw (anything but None is a failure worth showing).</summary>
    public ConcurrentQueue<ForwarderError> ForwardErrors { get; } = new();

    public async Task InitializeAsync()
    {
        Upstream = await TransportUpstream.StartAsync();
        Destination = new HboneTestServer(Issue(DestinationId), _ca, NullLogger.Instance);
        ClientHbone = NewHboneClient(Issue(ClientId));
        _waypointHbone = NewHboneClient(Issue(WaypointId));
        _upstreamClient = HboneHttpClient.Create(_waypointHbone, WaypointId.ToString());
        _waypoint = await StartWaypointAsync(Issue(WaypointId));
    }

    private WorkloadCertificate Issue(SpiffeId id)
        => _ca.Issue(id, DateTimeOffset.UtcNow.AddMinutes(-1), DateTimeOffset.UtcNow.AddHours(1));

    private HboneClient NewHboneClient(WorkloadCertificate certificate)
        => new(new HboneClientOptions(), (key, _) => ValueTask.FromResult(MeshTls.CreateClientOptions(
            certificate, _ca.RootCertificate, [.. key.DestinationIdentities.Split(',').Select(SpiffeId.Parse)], NullLogger.Instance)));

    private async Task<WebApplication> StartWaypointAsync(WorkloadCertificate certificate)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseHboneTransport(new HboneTransportOptions
        {
            ServerTls = v => MeshTls.CreateServerOptions(certificate, _ca.RootCertificate, TrustDomain, NullLogger.Instance, v),
            Admit = r => ValueTask.FromResult(r.Target?.Port == RefusedPort ? 401 : HboneTransportOptions.DefaultAdmit(r)),
        });
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.Limits.ApplyProxyLimits();
            k.ListenHbone(WaypointHbone);
            k.Listen(WaypointPlain);
        });
        builder.Services.AddHttpForwarder();
        var app = builder.Build();
        var forwarder = new HboneForwarder(app.Services.GetRequiredService<IHttpForwarder>(), _upstreamClient);
        // The route logic's stand-in: HTTP/2 requests go to the application's h2c port, the rest to its HTTP/1 port.
        var http1 = new UpstreamEndpoint(Upstream.Http1, DestinationId.ToString(), Destination.EndPoint, UpstreamProtocol.Http1);
        var http2 = new UpstreamEndpoint(Upstream.Http2, DestinationId.ToString(), Destination.EndPoint, UpstreamProtocol.Http2);
        // Nothing listens on port 1: the destination answers the CONNECT with 503.
        var down = new UpstreamEndpoint(new IPEndPoint(IPAddress.Loopback, 1), DestinationId.ToString(), Destination.EndPoint);
        // The destination proves "echo", not this identity: the tunnel's TLS handshake must fail.
        var impostor = new UpstreamEndpoint(Upstream.Http1, new SpiffeId(TrustDomain, "default", "other").ToString(), Destination.EndPoint);
        app.Run(async context =>
        {
            switch (context.Request.Path.Value)
            {
                case "/tunnel":
                    await context.Response.WriteAsJsonAsync(TunnelReport.From(context));
                    return;
                case "/healthz":
                    await context.Response.WriteAsync(context.Features.Get<IHboneTunnelFeature>() is null ? "plain" : "tunnel");
                    return;
            }
            var endpoint = context.Request.Path.Value switch
            {
                "/down" => down,
                "/impostor" => impostor,
                _ => HttpProtocol.IsHttp2(context.Request.Protocol) ? http2 : http1,
            };
            var error = await forwarder.ForwardAsync(context, endpoint, TimeSpan.FromSeconds(30));
            if (error != ForwarderError.None)
                ForwardErrors.Enqueue(error);
        });
        await app.StartAsync();
        return app;
    }

    /// <summary>Opens a tunnel to the waypoint as the client workload, as its node daemon would.</summary>
    public async Task<HboneStream> OpenTunnelAsync(CancellationToken ct = default)
    {
        var request = new HboneConnectRequest(ClientId.ToString(), [WaypointId.ToString()], WaypointHbone, Vip, ClientAddress);
        return new HboneStream(await ClientHbone.ConnectAsync(request, ct));
    }

    /// <summary>An HttpClient whose connections are tunnels to the waypoint; <see cref="TunnelClient.Tunnels"/> counts them.</summary>
    public TunnelClient CreateClient(Version version)
    {
        var client = new TunnelClient();
        var handler = new SocketsHttpHandler
        {
            UseProxy = false,
            ConnectCallback = async (_, ct) =>
            {
                Interlocked.Increment(ref client.Tunnels);
                return await OpenTunnelAsync(ct);
            },
        };
        client.Handler = handler;
        client.Http = new HttpClient(handler)
        {
            BaseAddress = new Uri($"http://{ServiceHost}/"),
            DefaultRequestVersion = version,
            DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Timeout = TimeSpan.FromSeconds(30),
        };
        return client;
    }

    public async Task DisposeAsync()
    {
        await _waypoint.StopAsync();
        await _waypoint.DisposeAsync();
        _upstreamClient.Dispose();
        await _waypointHbone.DisposeAsync();
        await ClientHbone.DisposeAsync();
        await Destination.DisposeAsync();
        await Upstream.DisposeAsync();
        _ca.Dispose();
    }
}

public sealed class TunnelClient : IDisposable
{
    public int Tunnels;
    public SocketsHttpHandler Handler { get; set; } = null!;
    public HttpClient Http { get; set; } = null!;
    public void Dispose() => Http.Dispose();
}

/// <summary>What the waypoint's middleware sees of the tunnel a request came through.</summary>
public sealed record TunnelReport(string? SourceIdentity, string? OriginalClient, string Target, string? RemoteIp, int LocalPort, string Protocol)
{
    public static TunnelReport From(HttpContext context)
    {
        var tunnel = context.Features.Get<IHboneTunnelFeature>() ?? throw new InvalidOperationException("no tunnel feature");
        return new(tunnel.SourceIdentity, tunnel.OriginalClient?.ToString(), tunnel.Target.ToString(),
            context.Connection.RemoteIpAddress?.ToString(), context.Connection.LocalPort, context.Request.Protocol);
    }

    public static TunnelReport Parse(string json) => JsonSerializer.Deserialize<TunnelReport>(json, JsonSerializerOptions.Web)!;
}

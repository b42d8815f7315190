using System.Net;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;

namespace Ambient.Waypoint.Transport;

/// <summary>Wiring Kestrel to serve HTTP inside HBONE tunnels.</summary>
public static class KestrelHboneExtensions
{
    /// <summary>Adds the HBONE transport next to Kestrel's socket transport (it claims only <see cref="HboneListenEndPoint"/>s).</summary>
    public static IWebHostBuilder UseHboneTransport(this IWebHostBuilder builder, HboneTransportOptions options)
        => builder.ConfigureServices(services => services.AddSingleton<IConnectionListenerFactory>(new HboneTransportFactory(options)));

    /// <summary>
    /// Serves HTTP/1.1 and cleartext HTTP/2 (prior knowledge, told apart by the client preface) in the tunnels
    /// accepted on <paramref name="address"/> (the waypoint's <c>ip:15008</c>; a fixed port, as both halves share it).
    /// <paramref name="configure"/> runs for both Kestrel endpoints (e.g. to add connection middleware).
    /// </summary>
    public static void ListenHbone(this KestrelServerOptions kestrel, IPEndPoint address, Action<ListenOptions>? configure = null)
    {
        if (address.Port == 0)
            throw new ArgumentException("the HTTP/1 and HTTP/2 endpoints share the HBONE port: give a fixed one", nameof(address));
        foreach (var protocol in new[] { HttpProtocols.Http1, HttpProtocols.Http2 })
        {
            kestrel.Listen(new HboneListenEndPoint(address, protocol), listen =>
            {
                listen.Protocols = protocol;
                configure?.Invoke(listen);
            });
        }
    }

    /// <summary>
    /// Limits for a proxy (DESIGN.md §8): no minimum data rates (a quiet gRPC stream or WebSocket is not a slow
    /// attacker here; the forwarder's activity timeout bounds idleness) and no body size cap (the application's
    /// own limits apply at the destination). Header limits stay, so oversized requests get 431.
    /// </summary>
    public static void ApplyProxyLimits(this KestrelServerLimits limits)
    {
        limits.MinRequestBodyDataRate = null;
        limits.MinResponseDataRate = null;
        limits.MaxRequestBodySize = null;
    }
}

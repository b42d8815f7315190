using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Ambient.Config;
using Ambient.Daemon.Net;
using Ambient.Daemon.Telemetry;
using Ambient.Observability.Metrics;
using Ambient.Hbone;
using Ambient.Http2;
using Ambient.LoadBalancing;
using Microsoft.Extensions.Logging;

namespace Ambient.Daemon.Proxy;

/// <summary>
/// One outbound connection from a local workload: route it, open the HBONE tunnel (or connect directly for
/// passthrough), relay, and write one access-log line when it ends.
/// </summary>
public sealed class Outbound(ProxyContext context, SocketPlacement placement)
{
    private readonly ILogger _log = context.Logs.CreateLogger("outbound");

    /// <summary>
    /// Routes and relays. <paramref name="onConnected"/> runs once the far side is reachable (SOCKS5 replies
    /// then); returning false means the caller already refused the client.
    /// </summary>
    /// <summary>Connect attempts for a service (each on a fresh pick), so a dead endpoint costs a retry, not a failure.</summary>
    private const int MaxServiceConnectAttempts = 3;

    public async Task HandleAsync(Socket client, Workload source, IPEndPoint destination, Func<bool, ValueTask>? onConnected = null)
    {
        var started = Stopwatch.GetTimestamp();
        var clientEndpoint = (IPEndPoint)client.RemoteEndPoint!;
        OutboundRoute route = new OutboundRoute.Refused("not routed");
        ConnectionLease lease = default;
        Socket? upstream = null;
        long sent = 0, received = 0;
        string? error = null;
        string? destinationName = null;
        try
        {
            Http2Stream? stream = null;
            for (int attempt = 1; ; attempt++)
            {
                route = OutboundRouter.Route(context.Config.Current, destination, context.Options.HbonePort, source, context.LoadBalancer, Random.Shared);
                // Counted from the pick (so connects in flight weigh in p2c) until the connection is over.
                lease = route.Pick is { } pick ? context.LoadBalancer.Lease(pick.Endpoint) : default;
                try
                {
                    (stream, upstream, destinationName) = await ConnectAsync(route, source, clientEndpoint).ConfigureAwait(false);
                    lease.ReportSuccess();
                    break;
                }
                catch (Exception e) when (e is HboneConnectException or SocketException or OperationCanceledException or IOException)
                {
                    // A 4xx is the peer answering (policy, bad request): not the endpoint's fault, and final.
                    bool endpointFault = e is not HboneConnectException { Status: >= 400 and < 500 };
                    if (endpointFault)
                        lease.ReportFailure();
                    lease.Dispose();
                    lease = default;
                    if (!endpointFault || route.Pick is null || attempt == MaxServiceConnectAttempts)
                        throw;
                    _log.LogDebug("connect to {Endpoint} for {Destination} failed ({Error}); picking another endpoint", route.Pick.Value.Endpoint.Workload.Uid, destination, e.Message);
                }
            }
            if (route is OutboundRoute.Refused refused)
            {
                error = refused.Reason;
                Meter(source, route, ResponseFlags.Connect).Dispose();
                if (onConnected is not null) await onConnected(false).ConfigureAwait(false);
            }
            else
            {
                if (onConnected is not null) await onConnected(true).ConfigureAwait(false);
                using var meter = Meter(source, route, ResponseFlags.None);
                var result = stream is not null
                    ? await TunnelRelay.RunAsync(client, stream, meter: meter).ConfigureAwait(false)
                    : await SocketRelay.RunAsync(client, upstream!, meter: meter).ConfigureAwait(false);
                (sent, received, error) = (result.BytesToTunnel, result.BytesFromTunnel, result.Error);
            }
        }
        catch (Exception e) when (e is HboneConnectException or SocketException or OperationCanceledException or IOException)
        {
            error = e is OperationCanceledException ? "connect timed out" : e.Message;
            // 401 is the destination's authorization refusing us; anything else is the far side unreachable.
            Meter(source, route, e is HboneConnectException { Status: 401 } ? ResponseFlags.Deny : ResponseFlags.Connect).Dispose();
            if (onConnected is not null) await onConnected(false).ConfigureAwait(false);
        }
        finally
        {
            lease.Dispose();
            upstream?.Dispose();
            client.Dispose();
        }
        var duration = Stopwatch.GetElapsedTime(started);
        var service = route switch { OutboundRoute.Tunnel t => t.Service, _ => context.Config.Current.ServiceByVip(destination.Address) };
        AccessLog.Outbound(context.AccessLog, clientEndpoint, $"{source.Namespace}/{source.Name}", source.Identity, destination, destinationName, service?.Hostname,
            route switch { OutboundRoute.Tunnel { Waypoint: not null } => "waypoint", OutboundRoute.Tunnel => "hbone", OutboundRoute.Passthrough => "passthrough", _ => "refused" },
            sent, received, (long)duration.TotalMilliseconds, error);
    }

    /// <summary>The connection's metric series as the source reporter: the destination is the workload and service dialled.</summary>
    private ConnectionMeter Meter(Workload source, OutboundRoute route, ResponseFlags flags)
    {
        var (destination, service, mtls) = route switch
        {
            // Through a waypoint the workload behind it is not known here; the service is.
            OutboundRoute.Tunnel { Waypoint: not null } t => ((Workload?)null, t.Service, true),
            OutboundRoute.Tunnel t => (t.Destination, t.Service, true),
            OutboundRoute.Passthrough p => (p.Destination, null, false),
            _ => (null, null, false),
        };
        var key = new TcpConnectionKey(Reporter.Source, source, source.Identity, destination, service, flags, mtls);
        return context.Metrics.Connection(key, forwardIsRequest: true);
    }

    /// <summary>Opens the far side of a route: an HBONE stream, or a plain socket for passthrough.</summary>
    private async Task<(Http2Stream?, Socket?, string?)> ConnectAsync(OutboundRoute route, Workload source, IPEndPoint clientEndpoint)
    {
        switch (route)
        {
            case OutboundRoute.Tunnel tunnel:
            {
                var request = new HboneConnectRequest(source.Identity, tunnel.Identities, tunnel.HboneEndpoint, tunnel.Target, clientEndpoint, placement.SourceAddress(source.Addresses[0]));
                var stream = await context.Hbone.ConnectAsync(request).ConfigureAwait(false);
                return (stream, null, $"{tunnel.Destination.Namespace}/{tunnel.Destination.Name}");
            }
            case OutboundRoute.Passthrough pass:
            {
                var upstream = placement.CreateUpstream(pass.Target.AddressFamily);
                try
                {
                    using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
                    await upstream.ConnectAsync(pass.Target, timeout.Token).ConfigureAwait(false);
                }
                catch
                {
                    upstream.Dispose();
                    throw;
                }
                return (null, upstream, pass.Destination is { } d ? $"{d.Namespace}/{d.Name}" : null);
            }
            default:
                return (null, null, null);
        }
    }
}

using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Ambient.Config;
using Ambient.Daemon.Net;
using Ambient.Hbone;
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
    public async Task HandleAsync(Socket client, Workload source, IPEndPoint destination, Func<bool, ValueTask>? onConnected = null)
    {
        var started = Stopwatch.GetTimestamp();
        var clientEndpoint = (IPEndPoint)client.RemoteEndPoint!;
        var snapshot = context.Config.Current;
        var route = OutboundRouter.Route(snapshot, destination, context.Options.HbonePort, Random.Shared.Next);
        long sent = 0, received = 0;
        string? error = null;
        string? destinationName = null;
        try
        {
            switch (route)
            {
                case OutboundRoute.Refused refused:
                    error = refused.Reason;
                    if (onConnected is not null) await onConnected(false).ConfigureAwait(false);
                    break;
                case OutboundRoute.Tunnel tunnel:
                {
                    destinationName = $"{tunnel.Destination.Namespace}/{tunnel.Destination.Name}";
                    var request = new HboneConnectRequest(source.Identity, tunnel.Identities, tunnel.HboneEndpoint, tunnel.Target, clientEndpoint, placement.SourceAddress(source.Addresses[0]));
                    var stream = await context.Hbone.ConnectAsync(request).ConfigureAwait(false);
                    if (onConnected is not null) await onConnected(true).ConfigureAwait(false);
                    var result = await TunnelRelay.RunAsync(client, stream).ConfigureAwait(false);
                    (sent, received, error) = (result.BytesToTunnel, result.BytesFromTunnel, result.Error);
                    break;
                }
                case OutboundRoute.Passthrough pass:
                {
                    destinationName = pass.Destination is { } d ? $"{d.Namespace}/{d.Name}" : null;
                    using var upstream = placement.CreateUpstream(pass.Target.AddressFamily);
                    using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
                    await upstream.ConnectAsync(pass.Target, timeout.Token).ConfigureAwait(false);
                    if (onConnected is not null) await onConnected(true).ConfigureAwait(false);
                    var result = await SocketRelay.RunAsync(client, upstream).ConfigureAwait(false);
                    (sent, received, error) = (result.BytesToTunnel, result.BytesFromTunnel, result.Error);
                    break;
                }
            }
        }
        catch (Exception e) when (e is HboneConnectException or SocketException or OperationCanceledException or IOException)
        {
            error = e is OperationCanceledException ? "connect timed out" : e.Message;
            if (onConnected is not null) await onConnected(false).ConfigureAwait(false);
        }
        finally
        {
            client.Dispose();
        }
        var duration = Stopwatch.GetElapsedTime(started);
        AccessLog.Outbound(context.AccessLog, clientEndpoint, $"{source.Namespace}/{source.Name}", source.Identity, destination, destinationName,
            route switch { OutboundRoute.Tunnel => "hbone", OutboundRoute.Passthrough => "passthrough", _ => "refused" },
            sent, received, (long)duration.TotalMilliseconds, error);
    }
}

using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Ambient.Authorization;
using Ambient.Config;
using Ambient.Daemon.Net;
using Ambient.Daemon.Telemetry;
using Ambient.Observability.Metrics;
using Ambient.Hbone;
using Microsoft.Extensions.Logging;

namespace Ambient.Daemon.Proxy;

/// <summary>
/// Serves HBONE streams arriving for the local workloads: validate the CONNECT, check the target is the address
/// the peer dialled, authorize the peer identity, dial the application, and only then answer 200 and relay.
/// Answers: 400 bad request, 401 denied by policy, 503 upstream unreachable (DESIGN.md §3).
/// </summary>
public sealed class InboundHbone(ProxyContext context, SocketPlacement placement)
{
    private readonly ILogger _log = context.Logs.CreateLogger("inbound");

    public async Task HandleAsync(HboneRequest request)
    {
        var started = Stopwatch.GetTimestamp();
        long sent = 0, received = 0;
        string? error = null;
        string? destinationName = null;
        Ambient.Config.Service? service = null;
        int status = 200;
        var snapshot = context.Config.Current;
        try
        {
            if (request.Method != "CONNECT")
            {
                (status, error) = (400, $"method {request.Method} is not CONNECT");
                return;
            }
            if (request.Target is null)
            {
                (status, error) = (400, $":authority '{request.Authority}' is not an ip:port");
                return;
            }
            if (!request.Target.Address.Equals(request.LocalEndPoint.Address))
            {
                (status, error) = (400, $":authority address {request.Target.Address} is not the address dialled ({request.LocalEndPoint.Address})");
                return;
            }
            var destination = snapshot.WorkloadByAddress(request.Target.Address);
            if (destination is null)
            {
                (status, error) = (400, $"no workload has address {request.Target.Address}");
                return;
            }
            destinationName = $"{destination.Namespace}/{destination.Name}";
            service = snapshot.ServiceForEndpoint(destination, request.Target.Port);
            var source = request.OriginalClient?.Address ?? request.RemoteEndPoint.Address;
            var facts = new ConnectionFacts(request.PeerIdentity, source, destination, request.Target.Address, request.Target.Port);
            var decision = L4Authorizer.Evaluate(snapshot.PoliciesFor(destination), facts);
            if (!decision.Allowed)
            {
                (status, error) = (401, decision.Reason);
                Meter(snapshot, request, destination, service, ResponseFlags.Deny).Dispose();
                _log.LogWarning("connection from {Identity} ({Source}) to {Destination} {Target} denied: {Reason}",
                    request.PeerIdentity, source, destinationName, request.Target, decision.Reason);
                return;
            }
            using var upstream = placement.CreateUpstream(request.Target.AddressFamily);
            try
            {
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
                await upstream.ConnectAsync(request.Target, timeout.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is SocketException or OperationCanceledException)
            {
                (status, error) = (503, e is SocketException s ? $"upstream {request.Target}: {s.SocketErrorCode}" : $"upstream {request.Target}: connect timed out");
                Meter(snapshot, request, destination, service, ResponseFlags.Connect).Dispose();
                return;
            }
            await request.RespondAsync(200).ConfigureAwait(false);
            using var lease = context.Connections.Track(facts, plaintext: false);
            // The relay's forward direction is the application's answer (upstream → tunnel).
            using var meter = Meter(snapshot, request, destination, service, ResponseFlags.None);
            var result = await TunnelRelay.RunAsync(upstream, request.Stream, lease.Closed, meter).ConfigureAwait(false);
            // Relay counts from the upstream socket's view: bytes to the tunnel are the response.
            (received, sent, error) = (result.BytesFromTunnel, result.BytesToTunnel, lease.ClosedByPolicy ? "closed: no longer allowed by policy" : result.Error);
        }
        finally
        {
            if (status != 200)
            {
                try { await request.RespondAsync(status).ConfigureAwait(false); }
                catch (Exception e) when (e is IOException or InvalidOperationException) { }
            }
            AccessLog.Inbound(context.AccessLog, request.OriginalClient ?? request.RemoteEndPoint, request.PeerIdentity, request.Target?.ToString() ?? request.Authority,
                destinationName, service?.Hostname, status, sent, received, (long)Stopwatch.GetElapsedTime(started).TotalMilliseconds, error);
        }
    }

    /// <summary>
    /// The connection's metric series as the destination reporter. The source workload is the one that dialled the
    /// HBONE connection (its address), and only if it holds the identity the peer proved: labels are not taken on trust.
    /// </summary>
    private ConnectionMeter Meter(MeshSnapshot snapshot, HboneRequest request, Workload destination, Ambient.Config.Service? service, ResponseFlags flags)
    {
        var peer = snapshot.WorkloadByAddress(request.RemoteEndPoint.Address);
        if (peer is not null && peer.Identity != request.PeerIdentity) peer = null;
        var key = new TcpConnectionKey(Reporter.Destination, peer, request.PeerIdentity, destination, service, flags, MutualTls: true);
        return context.Metrics.Connection(key, forwardIsRequest: false);
    }
}
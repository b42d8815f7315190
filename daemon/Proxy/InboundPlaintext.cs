using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Ambient.Authorization;
using Ambient.Config;
using Ambient.Daemon.Net;
using Ambient.Daemon.Telemetry;
using Ambient.Observability.Metrics;
using Microsoft.Extensions.Logging;

namespace Ambient.Daemon.Proxy;

/// <summary>
/// Plaintext connections redirected to 15006 from clients outside the mesh. STRICT PeerAuthentication refuses
/// them; otherwise they are authorized with no identity and delivered to the application.
/// </summary>
public sealed class InboundPlaintext(ProxyContext context, SocketPlacement placement)
{
    public async Task HandleAsync(Socket client, Workload workload)
    {
        var started = Stopwatch.GetTimestamp();
        var remote = (IPEndPoint)client.RemoteEndPoint!;
        var target = OriginalDestination.Get(client);
        string? error = null;
        long sent = 0, received = 0;
        try
        {
            if (target is null)
            {
                error = "not a redirected connection (no original destination)";
                return;
            }
            var snapshot = context.Config.Current;
            var destination = snapshot.WorkloadByAddress(target.Address) ?? workload;
            if (PeerAuthenticationMode(snapshot, destination, target.Port) == MtlsMode.Strict)
            {
                error = "plaintext refused: PeerAuthentication is STRICT";
                Meter(snapshot, remote, destination, target.Port, ResponseFlags.Deny).Dispose();
                return;
            }
            var facts = new ConnectionFacts(null, remote.Address, destination, target.Address, target.Port);
            var decision = L4Authorizer.Evaluate(snapshot.PoliciesFor(destination), facts);
            if (!decision.Allowed)
            {
                error = decision.Reason;
                Meter(snapshot, remote, destination, target.Port, ResponseFlags.Deny).Dispose();
                return;
            }
            using var upstream = placement.CreateUpstream(target.AddressFamily);
            try
            {
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
                await upstream.ConnectAsync(target, timeout.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is SocketException or OperationCanceledException)
            {
                Meter(snapshot, remote, destination, target.Port, ResponseFlags.Connect).Dispose();
                throw;
            }
            using var lease = context.Connections.Track(facts, plaintext: true);
            using var meter = Meter(snapshot, remote, destination, target.Port, ResponseFlags.None);
            var result = await SocketRelay.RunAsync(client, upstream, lease.Closed, meter).ConfigureAwait(false);
            (sent, received, error) = (result.BytesToTunnel, result.BytesFromTunnel, lease.ClosedByPolicy ? "closed: no longer allowed by policy" : result.Error);
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException)
        {
            error = e.Message;
        }
        finally
        {
            client.Dispose();
            AccessLog.InboundPlaintext(context.AccessLog, remote, target, $"{workload.Namespace}/{workload.Name}", sent, received,
                (long)Stopwatch.GetElapsedTime(started).TotalMilliseconds, error);
        }
    }

    /// <summary>The destination reporter's series for a plaintext client: no principal, no mTLS.</summary>
    private ConnectionMeter Meter(MeshSnapshot snapshot, IPEndPoint remote, Workload destination, int port, ResponseFlags flags)
    {
        var key = new TcpConnectionKey(Reporter.Destination, snapshot.WorkloadByAddress(remote.Address), null, destination,
            snapshot.ServiceForEndpoint(destination, port), flags, MutualTls: false);
        return context.Metrics.Connection(key, forwardIsRequest: true);
    }

    /// <summary>Workload-selected policy beats namespace beats root namespace; port-level beats workload-level.</summary>
    public static MtlsMode PeerAuthenticationMode(MeshSnapshot snapshot, Workload workload, int port)
    {
        MtlsMode mode = MtlsMode.Unset;
        int rank = -1;
        foreach (var pa in snapshot.PeerAuthenticationsFor(workload))
        {
            int r = pa.Selector is not null ? 2 : pa.Namespace == workload.Namespace ? 1 : 0;
            var m = pa.PortLevelMtls.TryGetValue(port, out var pm) && pm != MtlsMode.Unset ? pm : pa.Mtls;
            if (r > rank && m != MtlsMode.Unset)
                (mode, rank) = (m, r);
        }
        return mode == MtlsMode.Unset ? MtlsMode.Permissive : mode;
    }
}

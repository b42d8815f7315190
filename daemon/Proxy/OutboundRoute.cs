using System.Net;
using Ambient.Config;
using Ambient.LoadBalancing;

namespace Ambient.Daemon.Proxy;

/// <summary>How an outbound connection is carried, decided from the config snapshot alone.</summary>
public abstract record OutboundRoute
{
    /// <summary>The load balancer's choice when the destination was a service VIP (null for a workload address).</summary>
    public LoadBalancerPick? Pick { get; init; }

    /// <summary>
    /// Through HBONE to a mesh workload: dial <paramref name="HboneEndpoint"/>, CONNECT to <paramref name="Target"/>.
    /// When <see cref="Waypoint"/> is set, <paramref name="Destination"/> is the waypoint's workload and
    /// <paramref name="Target"/> the address the client dialed (service VIP or workload), for the waypoint to route.
    /// </summary>
    public sealed record Tunnel(Workload Destination, Service? Service, IPEndPoint HboneEndpoint, IPEndPoint Target, IReadOnlyList<string> Identities) : OutboundRoute
    {
        /// <summary>The waypoint service the connection is sent through, or null for a direct tunnel.</summary>
        public Service? Waypoint { get; init; }
    }

    /// <summary>Not a mesh destination (or a workload that does not speak HBONE): connect directly, unchanged.</summary>
    public sealed record Passthrough(IPEndPoint Target, Workload? Destination) : OutboundRoute;

    /// <summary>Cannot be routed (a service port that does not exist, no endpoints).</summary>
    public sealed record Refused(string Reason) : OutboundRoute;
}

/// <summary>
/// Destination → route: a service VIP picks one of its endpoints and maps the port; a workload address goes to
/// that workload; anything else passes through. Service endpoints are chosen by the <see cref="LoadBalancer"/>
/// (locality tiers with failover, outlier ejection, power-of-two-choices on open connections).
/// A service with a waypoint (<c>istio.io/use-waypoint</c>) is reached through one of the waypoint's workloads,
/// as is a workload address whose workload names a waypoint; the waypoint's own connections go direct.
/// </summary>
public static class OutboundRouter
{
    public static OutboundRoute Route(MeshSnapshot snapshot, IPEndPoint destination, int hbonePort, Workload source, LoadBalancer balancer, Random rng)
    {
        var service = snapshot.ServiceByVip(destination.Address);
        if (service is not null)
        {
            if (!service.Ports.ContainsKey(destination.Port))
                return new OutboundRoute.Refused($"service {service.Key} has no port {destination.Port}");
            if (service.Waypoint is { } serviceWaypoint)
                return ThroughWaypoint(snapshot, serviceWaypoint, service, destination, hbonePort, source, balancer, rng)
                    ?? Direct(snapshot, service, destination, hbonePort, source, balancer, rng);
            return Direct(snapshot, service, destination, hbonePort, source, balancer, rng);
        }
        var workload = snapshot.WorkloadByAddress(destination.Address);
        if (workload is not null)
        {
            if (workload.Waypoint is { } workloadWaypoint
                && ThroughWaypoint(snapshot, workloadWaypoint, null, destination, hbonePort, source, balancer, rng) is { } viaWaypoint)
                return viaWaypoint;
            return ToWorkload(workload, null, destination.Port, hbonePort, destination.Address);
        }
        return new OutboundRoute.Passthrough(destination, null);
    }

    private static OutboundRoute Direct(MeshSnapshot snapshot, Service service, IPEndPoint destination, int hbonePort, Workload source, LoadBalancer balancer, Random rng)
    {
        var endpoints = snapshot.EndpointsOf(service, destination.Port);
        if (endpoints.IsEmpty)
            return new OutboundRoute.Refused($"service {service.Key} has no endpoints");
        var pick = balancer.Pick(endpoints.AsSpan(), source, rng);
        return ToWorkload(pick.Endpoint.Workload, service, pick.Endpoint.TargetPort, hbonePort) with { Pick = pick };
    }

    /// <summary>
    /// The tunnel to a workload of the waypoint <paramref name="reference"/>, CONNECTing to the original destination;
    /// null when the source is that waypoint (its traffic has been processed already). A waypoint that is missing or
    /// has no workloads refuses the connection: bypassing it would skip the L7 policy it enforces.
    /// </summary>
    private static OutboundRoute? ThroughWaypoint(MeshSnapshot snapshot, NamespacedName reference, Service? service, IPEndPoint destination,
        int hbonePort, Workload source, LoadBalancer balancer, Random rng)
    {
        var waypoint = snapshot.ServiceByName(reference.Namespace, reference.Name);
        if (waypoint is null)
            return new OutboundRoute.Refused($"waypoint {reference} is not a known service");
        var endpoints = snapshot.EndpointsOf(waypoint);
        foreach (var endpoint in endpoints)
        {
            if (endpoint.Workload.Uid == source.Uid) return null;
        }
        var candidates = new EndpointTarget[endpoints.Length];
        int count = 0;
        foreach (var endpoint in endpoints)
        {
            if (endpoint.Workload.Protocol == WorkloadProtocol.Hbone) candidates[count++] = new EndpointTarget(endpoint.Workload, hbonePort);
        }
        if (count == 0)
            return new OutboundRoute.Refused($"waypoint {waypoint.Key} has no workloads speaking HBONE");
        var pick = balancer.Pick(candidates.AsSpan(0, count), source, rng);
        var proxy = pick.Endpoint.Workload;
        return new OutboundRoute.Tunnel(proxy, service, new IPEndPoint(proxy.Addresses[0], hbonePort), destination, [proxy.Identity])
        {
            Pick = pick,
            Waypoint = waypoint,
        };
    }
    private static OutboundRoute ToWorkload(Workload workload, Service? service, int port, int hbonePort, IPAddress? address = null)
    {
        var ip = address ?? workload.Addresses[0];
        var target = new IPEndPoint(ip, port);
        if (workload.Protocol != WorkloadProtocol.Hbone)
            return new OutboundRoute.Passthrough(target, workload);
        var identities = service is { SubjectAltNames.IsEmpty: false }
            ? [workload.Identity, .. service.SubjectAltNames]
            : new[] { workload.Identity };
        return new OutboundRoute.Tunnel(workload, service, new IPEndPoint(ip, hbonePort), target, identities);
    }
}

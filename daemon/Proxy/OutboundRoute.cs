using System.Net;
using Ambient.Config;
using Ambient.LoadBalancing;

namespace Ambient.Daemon.Proxy;

/// <summary>How an outbound connection is carried, decided from the config snapshot alone.</summary>
public abstract record OutboundRoute
{
    /// <summary>The load balancer's choice when the destination was a service VIP (null for a workload address).</summary>
    public LoadBalancerPick? Pick { get; init; }

    /// <summary>Through HBONE to a mesh workload: dial <paramref name="HboneEndpoint"/>, CONNECT to <paramref name="Target"/>.</summary>
    public sealed record Tunnel(Workload Destination, Service? Service, IPEndPoint HboneEndpoint, IPEndPoint Target, IReadOnlyList<string> Identities) : OutboundRoute;

    /// <summary>Not a mesh destination (or a workload that does not speak HBONE): connect directly, unchanged.</summary>
    public sealed record Passthrough(IPEndPoint Target, Workload? Destination) : OutboundRoute;

    /// <summary>Cannot be routed (a service port that does not exist, no endpoints).</summary>
    public sealed record Refused(string Reason) : OutboundRoute;
}

/// <summary>
/// Destination → route: a service VIP picks one of its endpoints and maps the port; a workload address goes to
/// that workload; anything else passes through. Service endpoints are chosen by the <see cref="LoadBalancer"/>
/// (locality tiers with failover, outlier ejection, power-of-two-choices on open connections).
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
            var endpoints = snapshot.EndpointsOf(service, destination.Port);
            if (endpoints.IsEmpty)
                return new OutboundRoute.Refused($"service {service.Key} has no endpoints");
            var pick = balancer.Pick(endpoints.AsSpan(), source, rng);
            return ToWorkload(pick.Endpoint.Workload, service, pick.Endpoint.TargetPort, hbonePort) with { Pick = pick };
        }
        var workload = snapshot.WorkloadByAddress(destination.Address);
        if (workload is not null)
            return ToWorkload(workload, null, destination.Port, hbonePort, destination.Address);
        return new OutboundRoute.Passthrough(destination, null);
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

using System.Net;
using Ambient.Authorization;
using Ambient.Config;
using Ambient.Daemon.Proxy;
using Ambient.LoadBalancing;

namespace Ambient.Daemon.Admin;

/// <summary>One step of an explanation: what was looked at and what came of it.</summary>
public sealed record ExplainStep(string Step, string Detail);

/// <summary>
/// How a connection from <see cref="Source"/> to <see cref="Destination"/> would be handled right now.
/// <see cref="Result"/> is ALLOW (carried), DENY (refused by policy), PASSTHROUGH (not a mesh destination) or REFUSED.
/// </summary>
public sealed record Explanation(Workload Source, IPEndPoint Destination, IReadOnlyList<ExplainStep> Steps, IReadOnlyList<PolicyVerdict> Policies, string Result, string Reason);

/// <summary>
/// <c>ambientctl explain SRC DST:PORT</c>: runs the same routing, load-balancing and authorization code the data
/// path runs, against the current snapshot, and records each decision. Nothing is leased or connected.
/// </summary>
public static class ConnectionExplainer
{
    public static Explanation Explain(MeshSnapshot snapshot, Workload source, IPEndPoint destination, int hbonePort, LoadBalancer balancer)
    {
        var steps = new List<ExplainStep>
        {
            new("source", $"workload {source.Namespace}/{source.Name} ({source.Identity}) on node {source.Node}"),
        };
        if (snapshot.ServiceByVip(destination.Address) is { } service)
        {
            var detail = $"{destination} is service {service.Namespace}/{service.Name} ({service.Hostname})";
            steps.Add(new("destination", service.Ports.TryGetValue(destination.Port, out var target)
                ? $"{detail}, port {destination.Port} → target port {(target == 0 ? destination.Port : target)}"
                : $"{detail}, which has no port {destination.Port}"));
        }
        else if (snapshot.WorkloadByAddress(destination.Address) is { } workload)
        {
            steps.Add(new("destination", $"{destination.Address} is workload {workload.Namespace}/{workload.Name} ({(workload.Protocol == WorkloadProtocol.Hbone ? "in the mesh" : "plain TCP, not in the mesh")})"));
        }
        else
        {
            steps.Add(new("destination", $"{destination.Address} is neither a service VIP nor a workload address"));
        }

        var route = OutboundRouter.Route(snapshot, destination, hbonePort, source, balancer, new Random());
        switch (route)
        {
            case OutboundRoute.Refused refused:
                return new Explanation(source, destination, steps, [], "REFUSED", refused.Reason);
            case OutboundRoute.Passthrough pass:
                steps.Add(new("route", pass.Destination is null
                    ? $"passthrough: connect to {pass.Target} directly, unchanged"
                    : $"passthrough: {pass.Destination.Namespace}/{pass.Destination.Name} does not speak HBONE; connect to {pass.Target} directly"));
                return new Explanation(source, destination, steps, [], "PASSTHROUGH", "destination is outside the mesh");
            case OutboundRoute.Tunnel tunnel:
                if (tunnel.Waypoint is { } waypoint)
                    steps.Add(new("waypoint", $"traffic for {(tunnel.Service is { } s ? $"service {s.Namespace}/{s.Name}" : $"workload at {destination.Address}")} goes through waypoint {waypoint.Namespace}/{waypoint.Name}"));
                else
                    steps.Add(new("waypoint", "none: direct to the destination workload"));
                if (tunnel.Pick is { } pick)
                    steps.Add(new("endpoint", $"{tunnel.Destination.Namespace}/{tunnel.Destination.Name} at {tunnel.HboneEndpoint.Address} "
                        + $"({pick.Tier} tier, {pick.Candidates} candidate(s), {pick.Strategy}{(pick.Panic ? ", panic: all endpoints ejected" : "")})"));
                steps.Add(new("tunnel", $"HBONE to {tunnel.HboneEndpoint}, CONNECT {tunnel.Target}, expecting {string.Join(" or ", tunnel.Identities)}"));
                // The policies that decide are those of the workload the tunnel ends at: the waypoint's, or the destination's.
                var facts = new ConnectionFacts(source.Identity, source.Addresses[0], tunnel.Destination, tunnel.Target.Address, tunnel.Target.Port);
                var (decision, consulted) = L4Authorizer.Explain(snapshot.PoliciesFor(tunnel.Destination), facts);
                steps.Add(new("authorization", $"{consulted.Count} L4 policy(ies) apply to {tunnel.Destination.Namespace}/{tunnel.Destination.Name}: {decision.Reason}"));
                if (tunnel.Waypoint is not null)
                    steps.Add(new("l7", "the waypoint then applies its HTTP routes and L7 policies, and connects to the destination with its own identity"));
                return new Explanation(source, destination, steps, consulted, decision.Allowed ? "ALLOW" : "DENY", decision.Reason);
            default:
                throw new InvalidOperationException($"unknown route {route}");
        }
    }
}

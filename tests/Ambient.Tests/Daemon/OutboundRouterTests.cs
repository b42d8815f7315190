using System.Net;
using Ambient.Config;
using Ambient.Daemon.Proxy;
using Ambient.LoadBalancing;

namespace Ambient.Tests.Daemon;

/// <summary>Routing decisions as pure functions of the config snapshot: no sockets.</summary>
public class OutboundRouterTests
{
    private static readonly MeshSnapshot Snapshot = Load("""
        workloads:
          - name: client
            namespace: default
            serviceAccount: client
            addresses: [10.0.0.1]
          - name: web-1
            namespace: default
            serviceAccount: web
            addresses: [10.0.1.1]
            labels: {app: web}
          - name: legacy
            namespace: default
            addresses: [10.0.2.1]
            protocol: TCP
            services:
              default/old.default.svc.cluster.local: {80: 8080}
        services:
          - name: web
            namespace: default
            vips: [10.96.0.1]
            ports: {80: 8080, 443: 8443}
            selector: {app: web}
            subjectAltNames: ["spiffe://cluster.local/ns/default/sa/web-canary"]
          - name: old
            namespace: default
            vips: [10.96.0.2]
            ports: {80: 8080}
          - name: empty
            namespace: default
            vips: [10.96.0.3]
            ports: {80: 80}
        """);

    private static MeshSnapshot Load(string yaml)
    {
        var result = ConfigLoader.LoadText(yaml, "test.yaml", 1);
        Assert.True(result.Ok, string.Join("\n", result.Errors));
        return new MeshSnapshot(result.Config!);
    }

    private static OutboundRoute Route(string destination)
        => OutboundRouter.Route(Snapshot, IPEndPoint.Parse(destination), 15008, Snapshot.WorkloadByUid("default/client")!, new LoadBalancer(), new Random(1));

    [Fact]
    public void Service_vip_goes_to_an_endpoint_on_the_target_port_through_hbone()
    {
        var tunnel = Assert.IsType<OutboundRoute.Tunnel>(Route("10.96.0.1:443"));
        Assert.Equal(IPEndPoint.Parse("10.0.1.1:15008"), tunnel.HboneEndpoint);
        Assert.Equal(IPEndPoint.Parse("10.0.1.1:8443"), tunnel.Target);
        Assert.Equal("default/web-1", tunnel.Destination.Uid);
        Assert.NotNull(tunnel.Pick);
    }

    [Fact]
    public void Expected_identities_are_the_endpoints_plus_the_services_subject_alt_names()
    {
        var tunnel = Assert.IsType<OutboundRoute.Tunnel>(Route("10.96.0.1:80"));
        Assert.Equal(["spiffe://cluster.local/ns/default/sa/web", "spiffe://cluster.local/ns/default/sa/web-canary"], tunnel.Identities);
    }

    [Fact]
    public void Workload_address_goes_straight_to_that_workload_keeping_the_port()
    {
        var tunnel = Assert.IsType<OutboundRoute.Tunnel>(Route("10.0.1.1:9000"));
        Assert.Equal(IPEndPoint.Parse("10.0.1.1:9000"), tunnel.Target);
        Assert.Equal(["spiffe://cluster.local/ns/default/sa/web"], tunnel.Identities);
        Assert.Null(tunnel.Pick);
    }

    [Fact]
    public void Service_port_that_does_not_exist_is_refused()
        => Assert.Contains("has no port 81", Assert.IsType<OutboundRoute.Refused>(Route("10.96.0.1:81")).Reason);

    [Fact]
    public void Service_without_endpoints_is_refused()
        => Assert.Contains("has no endpoints", Assert.IsType<OutboundRoute.Refused>(Route("10.96.0.3:80")).Reason);

    [Fact]
    public void Workloads_not_speaking_hbone_are_reached_directly()
    {
        var viaService = Assert.IsType<OutboundRoute.Passthrough>(Route("10.96.0.2:80"));
        Assert.Equal(IPEndPoint.Parse("10.0.2.1:8080"), viaService.Target);
        var direct = Assert.IsType<OutboundRoute.Passthrough>(Route("10.0.2.1:22"));
        Assert.Equal("default/legacy", direct.Destination!.Uid);
    }

    [Fact]
    public void Destinations_outside_the_mesh_pass_through_unchanged()
    {
        var pass = Assert.IsType<OutboundRoute.Passthrough>(Route("192.0.2.7:443"));
        Assert.Equal(IPEndPoint.Parse("192.0.2.7:443"), pass.Target);
        Assert.Null(pass.Destination);
    }

    [Theory]
    [InlineData(null, 8080, MtlsMode.Permissive)]                                          // mesh-wide only
    [InlineData("{mtls: {mode: STRICT}}", 8080, MtlsMode.Strict)]                         // workload beats mesh-wide PERMISSIVE
    [InlineData("{mtls: {mode: STRICT}, portLevelMtls: {8080: {mode: PERMISSIVE}}}", 8080, MtlsMode.Permissive)]
    [InlineData("{mtls: {mode: STRICT}, portLevelMtls: {8080: {mode: PERMISSIVE}}}", 9090, MtlsMode.Strict)]
    public void Peer_authentication_mode_by_scope_and_port(string? workloadSpec, int port, MtlsMode expected)
    {
        var yaml = """
            workloads:
              - name: web
                namespace: default
                addresses: [10.0.1.1]
                labels: {app: web}
            peerAuthentications:
              - metadata: {name: mesh, namespace: istio-system}
                spec: {mtls: {mode: PERMISSIVE}}
            """;
        if (workloadSpec is not null)
        {
            var spec = workloadSpec.Insert(1, "selector: {matchLabels: {app: web}}, ");
            yaml += $"\n  - metadata: {{name: web, namespace: default}}\n    spec: {spec}\n";
        }
        var snapshot = Load(yaml);
        Assert.Equal(expected, InboundPlaintext.PeerAuthenticationMode(snapshot, snapshot.WorkloadByUid("default/web")!, port));
    }

    private static readonly MeshSnapshot Waypoints = Load("""
        workloads:
          - {name: client, namespace: default, serviceAccount: client, addresses: [10.0.0.1]}
          - {name: reviews-1, namespace: default, serviceAccount: reviews, addresses: [10.0.1.1], labels: {app: reviews}}
          - {name: ratings-1, namespace: default, serviceAccount: ratings, addresses: [10.0.1.2], labels: {app: ratings}, waypoint: default/waypoint}
          - {name: waypoint-1, namespace: default, serviceAccount: waypoint, addresses: [10.0.9.1], labels: {gateway: waypoint}}
          - {name: plain-1, namespace: default, addresses: [10.0.1.3], labels: {app: plain}}
        services:
          - {name: waypoint, namespace: default, vips: [10.96.9.9], ports: {15008: 15008}, selector: {gateway: waypoint}}
          - {name: empty-waypoint, namespace: default, vips: [10.96.9.8], ports: {15008: 15008}}
          - {name: reviews, namespace: default, vips: [10.96.0.1], ports: {80: 9080}, selector: {app: reviews}, waypoint: default/waypoint}
          - {name: ratings, namespace: default, vips: [10.96.0.2], ports: {80: 9080}, selector: {app: ratings}}
          - {name: broken, namespace: default, vips: [10.96.0.3], ports: {80: 9080}, selector: {app: reviews}, waypoint: default/empty-waypoint}
          - {name: plain, namespace: default, vips: [10.96.0.4], ports: {80: 8080}, selector: {app: plain}}
        """);

    private static OutboundRoute RouteFrom(string source, string destination)
        => OutboundRouter.Route(Waypoints, IPEndPoint.Parse(destination), 15008, Waypoints.WorkloadByUid(source)!, new LoadBalancer(), new Random(1));

    [Theory]
    // service with a waypoint: to the waypoint's workload, CONNECT to the VIP the client dialed, expecting the waypoint's identity
    [InlineData("default/client", "10.96.0.1:80", "waypoint", "10.0.9.1:15008", "10.96.0.1:80", "spiffe://cluster.local/ns/default/sa/waypoint")]
    // service without one, even if its endpoint's workload has one: direct to the endpoint (workload waypoints serve workload-addressed traffic)
    [InlineData("default/client", "10.96.0.2:80", "direct", "10.0.1.2:15008", "10.0.1.2:9080", "spiffe://cluster.local/ns/default/sa/ratings")]
    // workload address whose workload names a waypoint: through it, CONNECT to the pod address
    [InlineData("default/client", "10.0.1.2:9080", "waypoint", "10.0.9.1:15008", "10.0.1.2:9080", "spiffe://cluster.local/ns/default/sa/waypoint")]
    // workload address without a waypoint (even if its service has one): direct
    [InlineData("default/client", "10.0.1.1:9080", "direct", "10.0.1.1:15008", "10.0.1.1:9080", "spiffe://cluster.local/ns/default/sa/reviews")]
    // the waypoint's own connections never loop back to it
    [InlineData("default/waypoint-1", "10.96.0.1:80", "direct", "10.0.1.1:15008", "10.0.1.1:9080", "spiffe://cluster.local/ns/default/sa/reviews")]
    [InlineData("default/waypoint-1", "10.0.1.2:9080", "direct", "10.0.1.2:15008", "10.0.1.2:9080", "spiffe://cluster.local/ns/default/sa/ratings")]
    public void Waypoint_versus_direct(string source, string destination, string kind, string hbone, string target, string identity)
    {
        var tunnel = Assert.IsType<OutboundRoute.Tunnel>(RouteFrom(source, destination));
        Assert.Equal(kind, tunnel.Waypoint is null ? "direct" : "waypoint");
        Assert.Equal(IPEndPoint.Parse(hbone), tunnel.HboneEndpoint);
        Assert.Equal(IPEndPoint.Parse(target), tunnel.Target);
        Assert.Equal([identity], tunnel.Identities);
        if (tunnel.Waypoint is not null) Assert.Equal("default/waypoint-1", tunnel.Destination.Uid);
    }

    [Fact]
    public void Waypoint_without_workloads_refuses_rather_than_bypassing_it()
        => Assert.Contains("waypoint default/empty-waypoint.default.svc.cluster.local has no workloads", Assert.IsType<OutboundRoute.Refused>(RouteFrom("default/client", "10.96.0.3:80")).Reason);

    [Fact]
    public void Service_port_is_checked_before_the_waypoint()
        => Assert.Contains("has no port 81", Assert.IsType<OutboundRoute.Refused>(RouteFrom("default/client", "10.96.0.1:81")).Reason);

    [Fact]
    public void Service_without_waypoint_still_routes_directly()
    {
        var tunnel = Assert.IsType<OutboundRoute.Tunnel>(RouteFrom("default/client", "10.96.0.4:80"));
        Assert.Null(tunnel.Waypoint);
        Assert.Equal("default/plain-1", tunnel.Destination.Uid);
    }
}

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
}

using System.Net;
using Ambient.Config;
using static Ambient.Tests.Config.ConfigTestHelpers;

namespace Ambient.Tests.Config;

public class MeshSnapshotTests
{
    private const string Mesh = """
        workloads:
          - name: sleep
            namespace: default
            serviceAccount: sleep
            addresses: [10.0.0.1, "fd00::1"]
            labels: {app: sleep}
          - name: echo-1
            namespace: default
            addresses: [10.0.0.2]
            labels: {app: echo, version: v1}
            services:
              default/echo: {80: 9080}
          - name: echo-2
            namespace: default
            node: other-node
            addresses: [10.0.0.3]
            labels: {app: echo, version: v2}
          - name: echo-remote
            namespace: default
            network: remote
            addresses: [10.0.0.2]
            labels: {app: echo}
          - name: echo-other-ns
            namespace: other
            addresses: [10.0.0.4]
            labels: {app: echo}
          - name: istio-gw
            namespace: istio-system
            addresses: [10.0.0.5]
            labels: {app: gw}
        services:
          - name: echo
            namespace: default
            vips: [10.96.0.10]
            ports: {80: 8080, 443: 8443}
            selector: {app: echo}
          - name: echo
            namespace: other
            vips: [10.96.0.11]
            ports: {80: 0}
          - name: headless
            namespace: default
        authorizationPolicies:
          - metadata: {name: mesh-deny, namespace: istio-system}
            spec: {action: DENY, rules: [{from: [{source: {namespaces: [evil]}}]}]}
          - metadata: {name: mesh-echo-audit, namespace: istio-system}
            spec: {selector: {matchLabels: {app: echo}}, action: AUDIT, rules: [{}]}
          - metadata: {name: ns-allow, namespace: default}
            spec: {rules: [{}]}
          - metadata: {name: echo-v1, namespace: default}
            spec: {selector: {matchLabels: {app: echo, version: v1}}, rules: [{}]}
          - metadata: {name: waypoint-only, namespace: default}
            spec: {targetRefs: [{kind: Service, name: echo}], rules: [{}]}
          - metadata: {name: other-ns, namespace: other}
            spec: {rules: [{}]}
        peerAuthentications:
          - metadata: {name: mesh, namespace: istio-system}
            spec: {mtls: {mode: PERMISSIVE}}
          - metadata: {name: echo-strict, namespace: default}
            spec: {selector: {matchLabels: {app: echo}}, mtls: {mode: STRICT}}
          - metadata: {name: ns, namespace: default}
            spec: {mtls: {mode: UNSET}}
          - metadata: {name: mesh-gw, namespace: istio-system}
            spec: {selector: {matchLabels: {app: echo}}, mtls: {mode: DISABLE}}
        """;

    private static readonly MeshSnapshot Snapshot = new(LoadOk(Mesh, generation: 5));

    private static Workload W(string uid) => Snapshot.WorkloadByUid(uid)!;

    [Fact]
    public void WorkloadByAddress_IsPerNetwork()
    {
        Assert.Equal("default/sleep", Snapshot.WorkloadByAddress(IPAddress.Parse("10.0.0.1"))!.Uid);
        Assert.Equal("default/sleep", Snapshot.WorkloadByAddress(IPAddress.Parse("fd00::1"))!.Uid);
        Assert.Equal("default/sleep", Snapshot.WorkloadByAddress(IPAddress.Parse("::ffff:10.0.0.1"))!.Uid); // dual-stack socket form
        Assert.Equal("default/echo-1", Snapshot.WorkloadByAddress(IPAddress.Parse("10.0.0.2"))!.Uid);
        Assert.Equal("default/echo-remote", Snapshot.WorkloadByAddress(IPAddress.Parse("10.0.0.2"), "remote")!.Uid);
        Assert.Null(Snapshot.WorkloadByAddress(IPAddress.Parse("10.0.0.99")));
        Assert.Null(Snapshot.WorkloadByAddress(IPAddress.Parse("10.0.0.1"), "remote"));
    }

    [Fact]
    public void WorkloadByUid_AndGeneration()
    {
        Assert.Equal(5, Snapshot.Generation);
        Assert.Equal("cluster.local", Snapshot.TrustDomain);
        Assert.Equal("spiffe://cluster.local/ns/default/sa/sleep", W("default/sleep").Identity);
        Assert.Null(Snapshot.WorkloadByUid("default/nope"));
    }

    [Fact]
    public void WorkloadsOnNode_KeepFileOrder()
    {
        Assert.Equal(["default/sleep", "default/echo-1", "default/echo-remote", "other/echo-other-ns", "istio-system/istio-gw"],
            Snapshot.WorkloadsOnNode("local").Select(w => w.Uid).ToArray());
        Assert.Equal(["default/echo-2"], Snapshot.WorkloadsOnNode("other-node").Select(w => w.Uid).ToArray());
        Assert.Empty(Snapshot.WorkloadsOnNode("nowhere"));
    }

    [Fact]
    public void ServiceLookups()
    {
        var echo = Snapshot.ServiceByVip(IPAddress.Parse("10.96.0.10"))!;
        Assert.Equal("default/echo.default.svc.cluster.local", echo.Key);
        Assert.Same(echo, Snapshot.ServiceByVip(IPAddress.Parse("10.96.0.10"), 443));
        Assert.Null(Snapshot.ServiceByVip(IPAddress.Parse("10.96.0.10"), 8080)); // target ports are not service ports
        Assert.Null(Snapshot.ServiceByVip(IPAddress.Parse("10.96.0.99")));
        Assert.Same(echo, Snapshot.ServiceByHostname("echo.default.svc.cluster.local"));
        Assert.Same(echo, Snapshot.ServiceByHostname("ECHO.default.svc.cluster.local"));
        Assert.Same(echo, Snapshot.ServiceByHostname("default", "echo.default.svc.cluster.local"));
        Assert.Same(echo, Snapshot.ServiceByHostname("default", "Echo.Default.svc.cluster.local"));
        Assert.Null(Snapshot.ServiceByHostname("other", "echo.default.svc.cluster.local"));
        Assert.Equal("other", Snapshot.ServiceByName("other", "echo")!.Namespace);
        Assert.Null(Snapshot.ServiceByName("default", "nope"));
    }

    [Fact]
    public void EndpointsOf_CombinesExplicitMembershipAndSelector()
    {
        var echo = Snapshot.ServiceByName("default", "echo")!;
        var endpoints = Snapshot.EndpointsOf(echo);
        // echo-1 lists the service explicitly; echo-2 and echo-remote match the selector in the same namespace;
        // echo-other-ns has matching labels but lives in another namespace.
        Assert.Equal(["default/echo-1", "default/echo-2", "default/echo-remote"], endpoints.Select(e => e.Workload.Uid).ToArray());
        Assert.Equal(9080, endpoints[0].TargetPortFor(80));   // workload override
        Assert.Equal(8443, endpoints[0].TargetPortFor(443));  // falls back to the service mapping
        Assert.Equal(8080, endpoints[1].TargetPortFor(80));
        Assert.Null(endpoints[1].TargetPortFor(81));

        Assert.Equal([("default/echo-1", 9080), ("default/echo-2", 8080), ("default/echo-remote", 8080)],
            Snapshot.EndpointsOf(echo, 80).Select(e => (e.Workload.Uid, e.TargetPort)).ToArray());
        Assert.Equal(8443, Snapshot.EndpointsOf(echo, 443)[0].TargetPort);
        Assert.Empty(Snapshot.EndpointsOf(echo, 81));

        var otherEcho = Snapshot.ServiceByName("other", "echo")!;
        Assert.Equal(80, otherEcho.Ports[80]); // target port 0 = same as the service port
        Assert.Empty(Snapshot.EndpointsOf(otherEcho)); // no selector, nobody lists it
        Assert.Empty(Snapshot.EndpointsOf(Snapshot.ServiceByName("default", "headless")!));
    }

    [Fact]
    public void PoliciesFor_AppliesRootNamespaceNamespaceAndSelectorScoping()
    {
        Assert.Equal(["mesh-deny", "mesh-echo-audit", "ns-allow", "echo-v1"],
            Snapshot.PoliciesFor(W("default/echo-1")).Select(p => p.Name).ToArray());
        Assert.Equal(["mesh-deny", "mesh-echo-audit", "ns-allow"],
            Snapshot.PoliciesFor(W("default/echo-2")).Select(p => p.Name).ToArray());
        Assert.Equal(["mesh-deny", "ns-allow"],
            Snapshot.PoliciesFor(W("default/sleep")).Select(p => p.Name).ToArray());
        // Root-namespace selectors match across namespaces.
        Assert.Equal(["mesh-deny", "mesh-echo-audit", "other-ns"],
            Snapshot.PoliciesFor(W("other/echo-other-ns")).Select(p => p.Name).ToArray());
        Assert.Equal(["mesh-deny"], Snapshot.PoliciesFor(W("istio-system/istio-gw")).Select(p => p.Name).ToArray());
    }

    [Fact]
    public void PoliciesFor_AWorkloadNotInTheSnapshot_IsComputed()
    {
        var stranger = W("default/sleep") with { Uid = "default/stranger", Labels = W("default/echo-1").Labels };
        Assert.Equal(["mesh-deny", "mesh-echo-audit", "ns-allow", "echo-v1"], Snapshot.PoliciesFor(stranger).Select(p => p.Name).ToArray());
        var relabelled = W("default/sleep") with { Labels = W("default/echo-1").Labels }; // same uid, different object
        Assert.Equal(4, Snapshot.PoliciesFor(relabelled).Length);
    }

    [Fact]
    public void PeerAuthenticationsFor_AreMostSpecificFirst()
    {
        Assert.Equal(["echo-strict", "ns", "mesh-gw", "mesh"],
            Snapshot.PeerAuthenticationsFor(W("default/echo-1")).Select(p => p.Name).ToArray());
        Assert.Equal(["ns", "mesh"], Snapshot.PeerAuthenticationsFor(W("default/sleep")).Select(p => p.Name).ToArray());
        Assert.Equal(["mesh"], Snapshot.PeerAuthenticationsFor(W("istio-system/istio-gw")).Select(p => p.Name).ToArray());
    }

    [Fact]
    public void Empty_HasNothing()
    {
        Assert.Equal(0, MeshSnapshot.Empty.Generation);
        Assert.Null(MeshSnapshot.Empty.WorkloadByAddress(IPAddress.Loopback));
        Assert.Null(MeshSnapshot.Empty.ServiceByVip(IPAddress.Loopback));
        Assert.Empty(MeshSnapshot.Empty.WorkloadsOnNode("local"));
    }

    [Fact]
    public void UnvalidatedConfigWithDuplicates_DoesNotThrow_FirstWins()
    {
        var a = new Workload { Uid = "x", Name = "a", Namespace = "n", Addresses = [IPAddress.Parse("10.0.0.1")] };
        var b = a with { Name = "b" };
        var snapshot = new MeshSnapshot(new MeshConfig { Workloads = [a, b] });
        Assert.Same(a, snapshot.WorkloadByUid("x"));
        Assert.Same(a, snapshot.WorkloadByAddress(IPAddress.Parse("10.0.0.1")));
    }
}

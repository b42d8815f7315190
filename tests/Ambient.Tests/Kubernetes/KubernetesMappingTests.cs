using System.Collections.Immutable;
using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using Ambient.Config;
using Ambient.Discovery.Kubernetes;
using static Ambient.Tests.Kubernetes.KubeObjects;

namespace Ambient.Tests.Kubernetes;

/// <summary>The object → MeshConfig mapping on its own (no server): Istio ambient semantics and per-object rejection.</summary>
public sealed class KubernetesMappingTests
{
    private static readonly KubernetesSourceOptions Options = new();

    internal static KubernetesBuildResult Build(params JsonObject[] objects)
    {
        var byKind = objects.GroupBy(o => o["kind"]!.GetValue<string>()).ToDictionary(g => g.Key, g => g.ToList());
        ImmutableArray<CachedObject> Of(KubernetesResource resource) =>
        [
            .. (byKind.GetValueOrDefault(resource.Kind) ?? [])
                .Select(o => CachedObject.From(resource, JsonDocument.Parse(o.ToJsonString()).RootElement, out _)!)
                .OrderBy(o => o.Key, StringComparer.Ordinal),
        ];
        return KubernetesMeshBuilder.Build(new KubernetesObjects
        {
            Namespaces = Of(KubernetesResource.Namespaces),
            Pods = Of(KubernetesResource.Pods),
            Services = Of(KubernetesResource.Services),
            EndpointSlices = Of(KubernetesResource.EndpointSlices),
            Gateways = Of(KubernetesResource.Gateways),
            AuthorizationPolicies = Of(KubernetesResource.AuthorizationPolicies),
            PeerAuthentications = Of(KubernetesResource.PeerAuthentications),
            HttpRoutes = Of(KubernetesResource.HttpRoutes),
            GrpcRoutes = Of(KubernetesResource.GrpcRoutes),
            DestinationRules = Of(KubernetesResource.DestinationRules),
            RequestAuthentications = Of(KubernetesResource.RequestAuthentications),
        }, Options);
    }

    private static JsonObject WithCreation(JsonObject obj, string timestamp)
    {
        obj["metadata"]!["creationTimestamp"] = timestamp;
        return obj;
    }

    private static Workload W(KubernetesBuildResult result, string name) => result.Config.Workloads.Single(w => w.Name == name);

    [Fact]
    public void NamedTargetPorts_AreResolvedPerPodThroughContainerPorts()
    {
        var result = Build(
            Pod("shop", "api-v1", "10.0.0.1", labels: [("app", "api")], ports: [("http", 8080)]),
            Pod("shop", "api-v2", "10.0.0.2", labels: [("app", "api")], ports: [("http", 9090)]),
            Pod("shop", "other", "10.0.0.3", labels: [("app", "other")], ports: [("http", 7070)]),
            Service("shop", "api", "10.96.0.1", [("web", 80, "http")], selector: [("app", "api")]));
        var snapshot = new MeshSnapshot(result.Config);
        var service = snapshot.ServiceByName("shop", "api")!;
        Assert.Equal(8080, service.Ports[80]); // the first resolution; each pod has its own below
        Assert.Equal(8080, W(result, "api-v1").Services[service.Key][80]);
        Assert.Equal(9090, W(result, "api-v2").Services[service.Key][80]);
        Assert.Empty(W(result, "other").Services);
        Assert.Equal([("api-v1", 8080), ("api-v2", 9090)],
            snapshot.EndpointsOf(service, 80).Select(e => (e.Workload.Name, e.TargetPort)).Order());
    }

    [Fact]
    public void EndpointSlices_GiveMembership_ReadyEndpointsOnly_WithTheirResolvedPorts()
    {
        var result = Build(
            Pod("db", "pg-0", "10.0.1.1", labels: [("app", "pg")], ports: [("sql", 5432)]),
            Pod("db", "pg-1", "10.0.1.2", labels: [("app", "pg")], ports: [("sql", 5432)]),
            // No selector: membership comes from the (manually managed) slice only.
            Service("db", "primary", "10.96.1.1", [("sql", 5432, "sql"), ("metrics", 9187, 9187)]),
            EndpointSlice("db", "primary", "primary-1", [("pg-0", "10.0.1.1", true), ("pg-1", "10.0.1.2", false)], [("sql", 15432), ("metrics", 9187)]));
        var snapshot = new MeshSnapshot(result.Config);
        var service = snapshot.ServiceByName("db", "primary")!;
        Assert.Null(service.Selector);
        Assert.Equal(15432, service.Ports[5432]); // named target port resolved from the slice
        var endpoint = Assert.Single(snapshot.EndpointsOf(service, 5432));
        Assert.Equal(("pg-0", 15432), (endpoint.Workload.Name, endpoint.TargetPort));
        Assert.Equal(9187, Assert.Single(snapshot.EndpointsOf(service, 9187)).TargetPort);
        Assert.Empty(W(result, "pg-1").Services); // not ready
        Assert.Empty(result.Problems);
    }

    [Fact]
    public void Services_HeadlessDualStackExternalNameAndUdp()
    {
        var headless = Service("app", "headless", "None", [("tcp", 80, 8080)]);
        var dual = Service("app", "dual", "10.96.2.1", [("tcp", 80, 8080)]);
        dual["spec"]!["clusterIPs"] = new JsonArray { "10.96.2.1", "fd00:96::21" };
        var external = Service("app", "external", null, [("tcp", 80, 80)]);
        external["spec"]!["type"] = "ExternalName";
        external["spec"]!["externalName"] = "db.example.com";
        var udp = Service("app", "dns", "10.96.2.2", [("dns", 53, 53)]);
        udp["spec"]!["ports"]![0]!["protocol"] = "UDP";
        var result = Build(headless, dual, external, udp);

        var services = result.Config.Services.ToDictionary(s => s.Name);
        Assert.Empty(services["headless"].Vips);
        Assert.Equal(8080, services["headless"].Ports[80]);
        Assert.Equal<IPAddress>([IPAddress.Parse("10.96.2.1"), IPAddress.Parse("fd00:96::21")], services["dual"].Vips);
        Assert.False(services.ContainsKey("external"));
        Assert.Empty(services["dns"].Ports);
        Assert.Equal("dual.app.svc.cluster.local", services["dual"].Hostname);
    }

    [Fact]
    public void Waypoints_FollowIstioLabelPrecedence()
    {
        var result = Build(
            Namespace("ns1", ("istio.io/dataplane-mode", "ambient"), ("istio.io/use-waypoint", "ns-waypoint")),
            Namespace("infra"),
            WaypointGateway("ns1", "ns-waypoint", "ns-waypoint.ns1.svc.cluster.local"),
            Service("ns1", "ns-waypoint", "10.96.3.1", [("mesh", 15008, 15008)], labels: [Managed]),
            // Resolved through status.addresses of type IPAddress (the service has another name).
            IpAddressedGateway("infra", "shared", "10.96.3.2"),
            Service("infra", "shared-waypoint", "10.96.3.2", [("mesh", 15008, 15008)], labels: [Managed]),
            // No status yet: the Service of the Gateway's name.
            WaypointGateway("ns1", "pod-waypoint"),
            Service("ns1", "pod-waypoint", "10.96.3.3", [("mesh", 15008, 15008)], labels: [Managed]),
            WaypointGateway("ns1", "ingress", className: "istio"),
            Pod("ns1", "inherits", "10.0.3.1"),
            Pod("ns1", "own", "10.0.3.2", labels: [("istio.io/use-waypoint", "pod-waypoint")]),
            Pod("ns1", "cross", "10.0.3.3", labels: [("istio.io/use-waypoint", "shared"), ("istio.io/use-waypoint-namespace", "infra")]),
            Pod("ns1", "none", "10.0.3.4", labels: [("istio.io/use-waypoint", "none")]),
            Pod("ns1", "not-a-waypoint", "10.0.3.5", labels: [("istio.io/use-waypoint", "ingress")]),
            Pod("infra", "plain", "10.0.3.6", labels: [("istio.io/use-waypoint", "shared")]), // TCP: no waypoint
            Service("ns1", "svc", "10.96.3.10", [("http", 80, 80)], labels: [("istio.io/use-waypoint", "pod-waypoint")]),
            Service("ns1", "svc-inherits", "10.96.3.11", [("http", 80, 80)]));

        Assert.Equal(new NamespacedName("ns1", "ns-waypoint"), W(result, "inherits").Waypoint);
        Assert.Equal(new NamespacedName("ns1", "pod-waypoint"), W(result, "own").Waypoint);
        Assert.Equal(new NamespacedName("infra", "shared-waypoint"), W(result, "cross").Waypoint);
        Assert.Null(W(result, "none").Waypoint);
        Assert.Null(W(result, "not-a-waypoint").Waypoint);
        Assert.Null(W(result, "plain").Waypoint);
        var services = result.Config.Services.ToDictionary(s => s.Name);
        Assert.Equal(new NamespacedName("ns1", "pod-waypoint"), services["svc"].Waypoint);
        Assert.Null(services["ns-waypoint"].Waypoint); // a waypoint does not use itself
        Assert.Equal(new NamespacedName("ns1", "ns-waypoint"), services["svc-inherits"].Waypoint);

        var warning = Assert.Single(result.Problems);
        Assert.False(warning.Rejected);
        Assert.Equal("Pod ns1/not-a-waypoint: metadata.labels[\"istio.io/use-waypoint\"]: waypoint 'ns1/ingress' is not a Gateway of class istio-waypoint; traffic is not sent through a waypoint",
            warning.ToString());
        // Every waypoint reference of the config resolves to a service, as the file config requires.
        var snapshot = new MeshSnapshot(result.Config);
        foreach (var w in result.Config.Workloads.Where(w => w.Waypoint is not null)) Assert.NotNull(snapshot.ServiceByName(w.Waypoint!.Value.Namespace, w.Waypoint.Value.Name));
    }

    private static readonly (string, string) Managed = ("gateway.istio.io/managed", "istio.io-mesh-controller");

    private static JsonObject IpAddressedGateway(string ns, string name, string ip)
    {
        var gateway = WaypointGateway(ns, name);
        gateway["status"] = new JsonObject { ["addresses"] = new JsonArray { new JsonObject { ["type"] = "IPAddress", ["value"] = ip } } };
        return gateway;
    }

    [Fact]
    public void Enrolment_NamespaceLabel_PodOptInAndOptOut()
    {
        var result = Build(
            Namespace("mesh", ("istio.io/dataplane-mode", "ambient")),
            Namespace("plain"),
            Pod("mesh", "in", "10.0.4.1"),
            Pod("mesh", "out", "10.0.4.2", labels: [("istio.io/dataplane-mode", "none")]),
            Pod("plain", "opt-in", "10.0.4.3", labels: [("istio.io/dataplane-mode", "ambient")]),
            Pod("plain", "off", "10.0.4.4"),
            Pod("unknown-ns", "off2", "10.0.4.5"));
        Assert.Equal(WorkloadProtocol.Hbone, W(result, "in").Protocol);
        Assert.Equal(WorkloadProtocol.Tcp, W(result, "out").Protocol);
        Assert.Equal(WorkloadProtocol.Hbone, W(result, "opt-in").Protocol);
        Assert.Equal(WorkloadProtocol.Tcp, W(result, "off").Protocol);
        Assert.Equal(WorkloadProtocol.Tcp, W(result, "off2").Protocol);
    }

    [Fact]
    public void Pods_OnlyRunningWithAnIp_AndNotHostNetwork()
    {
        var hostNetwork = Pod("kube-system", "kube-proxy", "172.18.0.3");
        hostNetwork["spec"]!["hostNetwork"] = true;
        var succeeded = Pod("batch", "job", "10.0.5.2", phase: "Succeeded");
        var noIp = Pod("batch", "starting", "10.0.5.3");
        ((JsonObject)noIp["status"]!).Remove("podIP");
        ((JsonObject)noIp["status"]!).Remove("podIPs");
        var legacyField = Pod("batch", "old-style", "10.0.5.4");
        ((JsonObject)legacyField["status"]!).Remove("podIPs");
        var noServiceAccount = Pod("batch", "no-sa", "10.0.5.5");
        ((JsonObject)noServiceAccount["spec"]!).Remove("serviceAccountName");

        var result = Build(hostNetwork, succeeded, noIp, legacyField, noServiceAccount);
        Assert.Equal(["no-sa", "old-style"], result.Config.Workloads.Select(w => w.Name).Order());
        Assert.Equal("default", W(result, "no-sa").ServiceAccount);
        Assert.Equal<IPAddress>([IPAddress.Parse("10.0.5.4")], W(result, "old-style").Addresses);
        Assert.Empty(result.Problems);
    }

    [Fact]
    public void DuplicatePodAddresses_TheNewerPodKeepsTheAddress()
    {
        var result = Build(
            WithCreation(Pod("app", "old", "10.0.6.1"), "2025-01-01T00:00:00Z"),
            WithCreation(Pod("app", "new", "10.0.6.1"), "2025-01-02T00:00:00Z"));
        var workload = Assert.Single(result.Config.Workloads);
        Assert.Equal("new", workload.Name);
        var warning = Assert.Single(result.Problems);
        Assert.Equal("Pod app/old: status.podIPs: address 10.0.6.1 is also reported by newer pod app/new; it is left to that pod", warning.ToString());
    }

    [Fact]
    public void PeerAuthentication_OnlyTheOldestNamespaceWideOneApplies()
    {
        JsonObject Pa(string name, string created, string mode, bool selector = false) => WithCreation(YamlJson.Parse($$"""
            apiVersion: security.istio.io/v1
            kind: PeerAuthentication
            metadata: { name: {{name}}, namespace: app }
            spec:
              {{(selector ? "selector: { matchLabels: { app: web } }" : "")}}
              mtls: { mode: {{mode}} }
            """), created);
        var result = Build(
            Pa("newer", "2025-02-01T00:00:00Z", "DISABLE"),
            Pa("older", "2025-01-01T00:00:00Z", "STRICT"),
            Pa("web", "2025-03-01T00:00:00Z", "PERMISSIVE", selector: true));
        Assert.Equal(["app/older", "app/web"], result.Config.PeerAuthentications.Select(p => p.Key).Order());
        var rejection = Assert.Single(result.Problems);
        Assert.True(rejection.Rejected);
        Assert.Equal("PeerAuthentication app/newer: spec.selector: another namespace-wide PeerAuthentication, 'app/older', is older and applies (Istio honours only the oldest one per namespace)",
            rejection.ToString());
    }

    [Fact]
    public void InvalidObjects_AreRejectedAlone_NamingTheField()
    {
        var badVip = Service("app", "bad-vip", "10.96.0.300", [("http", 80, 80)]);
        var badPort = Service("app", "bad-port", "10.96.0.5", [("http", 80, 80)]);
        badPort["spec"]!["ports"]![0]!["port"] = 70000;
        var badLabels = Pod("app", "bad-labels", "10.0.7.2");
        badLabels["metadata"]!["labels"] = new JsonArray { "x" };
        var badSlice = EndpointSlice("app", "good", "good-1", [("good-pod", "10.0.7.1", true)], [("http", 80)]);
        badSlice["endpoints"]![0]!["conditions"]!["ready"] = "yes";
        var result = Build(
            Pod("app", "good-pod", "10.0.7.1", labels: [("app", "good")]),
            badLabels,
            Service("app", "good", "10.96.0.4", [("http", 80, 8080)], selector: [("app", "good")]),
            badVip, badPort, badSlice);

        Assert.Equal(["good-pod"], result.Config.Workloads.Select(w => w.Name));
        Assert.Equal(["good"], result.Config.Services.Select(s => s.Name));
        Assert.Equal(
        [
            "EndpointSlice app/good-1: endpoints[0].conditions.ready: expected a boolean, got a string",
            "Pod app/bad-labels: metadata.labels: expected a mapping, got a list",
            "Service app/bad-port: spec.ports[0].port: 70000 is out of range (1-65535)",
            "Service app/bad-vip: spec.clusterIPs[0]: '10.96.0.300' is not an IP address",
        ], result.Problems.Select(p => p.ToString()).Order());
        Assert.All(result.Problems, p => Assert.True(p.Rejected));
        Assert.Equal(4, result.RejectedObjects);
    }

    /// <summary>
    /// A policy from the API is accepted or rejected exactly like the same policy in the config file, with the same
    /// messages; only the field path loses the file's list prefix.
    /// </summary>
    [Theory]
    [InlineData("""
        metadata: { name: p, namespace: app }
        spec:
          action: DENY
          rules:
          - from:
            - source: { ipBlocks: ["10.0.0.0/33"], principals: ["spiffe://cluster.local/ns/a/sa/b"] }
            to:
            - operation: { ports: ["http"] }
            when:
            - key: source.ipp
              values: ["1.2.3.4"]
        """, 4)]
    [InlineData("""
        metadata: { name: p, namespace: app }
        spec:
          selector: { matchLabels: { app: web } }
          targetRefs: [{ kind: Gateway, group: gateway.networking.k8s.io, name: waypoint }]
          action: CUSTOM
          rules: [{ from: [] }]
        """, 3)]
    [InlineData("""
        metadata: { name: p, namespace: app }
        spec:
          action: ALLOW
          rules:
          - from: [{ source: { principals: ["cluster.local/ns/a/sa/*"], notNamespaces: ["kube-*"] } }]
            to: [{ operation: { methods: ["GET"], paths: ["/api/*"], notPorts: ["8443"] } }]
            when: [{ key: "request.headers[x-tenant]", values: ["blue"] }]
        """, 0)]
    public void ApiPolicies_ValidateExactlyLikeTheConfigFile(string policyYaml, int errors)
    {
        var indented = string.Join("\n", policyYaml.Split('\n').Select((line, i) => i == 0 ? "  - " + line : "    " + line));
        var file = ConfigLoader.LoadText("authorizationPolicies:\n" + indented, "ambient.yaml", 1);

        var api = YamlJson.Parse("apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\n" + policyYaml);
        var result = Build(api);

        var fileErrors = file.Errors.Select(e => (e.FieldPath["authorizationPolicies[0].".Length..], e.Message)).Order().ToList();
        var apiErrors = result.Problems.Select(p => (p.Field, p.Message)).Order().ToList();
        Assert.Equal(fileErrors, apiErrors);
        Assert.Equal(errors, apiErrors.Count);
        if (file.Ok)
        {
            var fromFile = Assert.Single(file.Config!.AuthorizationPolicies);
            var fromApi = Assert.Single(result.Config.AuthorizationPolicies);
            Assert.Equal(Dump(fromFile), Dump(fromApi));
        }
        else
        {
            Assert.Empty(result.Config.AuthorizationPolicies);
        }
    }

    private static string Dump(AuthorizationPolicy p) => string.Join("|",
        p.Key, p.Action, p.Provider, string.Join(",", p.Selector?.MatchLabels.Select(kv => kv.ToString()) ?? []),
        string.Join(",", p.TargetRefs), string.Join(";", p.Rules.Select(r => string.Join("/",
            string.Join(",", r.From.Select(f => string.Join(" ", f.Principals.Concat(f.NotNamespaces).Concat(f.IpBlocks.Select(b => b.ToString()))))),
            string.Join(",", r.To.Select(t => string.Join(" ", t.Methods.Concat(t.Paths).Concat(t.NotPorts.Select(x => x.ToString()))))),
            string.Join(",", r.When.Select(w => w.Key + "=" + string.Join(" ", w.Values)))))));

    [Fact]
    public void L7_objects_load_oldest_first_and_an_invalid_one_is_rejected_alone()
    {
        var newer = WithCreation(YamlJson.Parse("""
            apiVersion: gateway.networking.k8s.io/v1
            kind: HTTPRoute
            metadata: {name: reviews-canary, namespace: bookinfo}
            spec:
              parentRefs: [{group: "", kind: Service, name: reviews}]
              rules: [{backendRefs: [{name: reviews-v2, port: 9080}]}]
            """), "2026-02-01T00:00:00Z");
        var older = WithCreation(YamlJson.Parse("""
            apiVersion: gateway.networking.k8s.io/v1
            kind: HTTPRoute
            metadata: {name: reviews, namespace: bookinfo}
            spec:
              parentRefs: [{group: "", kind: Service, name: reviews}]
              rules: [{backendRefs: [{name: reviews-v1, port: 9080}]}]
            """), "2026-01-01T00:00:00Z");
        var bad = YamlJson.Parse("""
            apiVersion: gateway.networking.k8s.io/v1
            kind: HTTPRoute
            metadata: {name: broken, namespace: bookinfo}
            spec:
              parentRefs: [{group: "", kind: Service, name: reviews}]
              rules: [{backendRefs: [{name: reviews-v1, port: 9080, weight: -5}]}]
            """);
        var rule = YamlJson.Parse("""
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata: {name: reviews, namespace: bookinfo}
            spec: {host: reviews, trafficPolicy: {connectionPool: {http: {http1MaxPendingRequests: 10}}}}
            """);
        var jwt = YamlJson.Parse("""
            apiVersion: security.istio.io/v1
            kind: RequestAuthentication
            metadata: {name: jwt, namespace: bookinfo}
            spec: {jwtRules: [{issuer: "https://issuer", jwksUri: "https://issuer/jwks"}]}
            """);
        var result = Build(newer, bad, older, rule, jwt);
        Assert.Equal(["reviews", "reviews-canary"], result.Config.HttpRoutes.Select(r => r.Name).ToArray());
        Assert.Single(result.Config.DestinationRules);
        Assert.Single(result.Config.RequestAuthentications);
        var problem = Assert.Single(result.Problems);
        Assert.Equal(("HTTPRoute", "bookinfo/broken", "spec.rules[0].backendRefs[0].weight"), (problem.Kind, problem.ObjectName, problem.Field));
    }
}

using System.Net;
using System.Text;
using Ambient.Config;
using static Ambient.Tests.Config.ConfigTestHelpers;

namespace Ambient.Tests.Config;

public class ConfigLoaderTests
{
    private const string FullConfig = """
        trustDomain: example.org
        workloads:
          - uid: cluster1//Pod/default/echo-1
            name: echo-1
            namespace: default
            serviceAccount: echo
            addresses: [10.0.0.1, "fd00::1", "::ffff:10.0.0.9"]
            node: node-a
            network: net1
            locality: us-east1/us-east1-b/rack1
            labels:
              app: echo
              app.kubernetes.io/version: v1
            protocol: tcp
            waypoint: default/waypoint
            services:
              default/echo.default.svc.cluster.local:
                80: 8080
                443:
              default/waypoint: {}
          - name: waypoint-0
            namespace: default
            addresses: [10.0.0.2]
            locality: {region: eu, zone: eu-1}
        services:
          - name: echo
            namespace: default
            vips: [10.96.0.1, "fd00:96::1"]
            ports: {80: 8080, 443: 0, 9090: }
            waypoint: {name: waypoint}
            subjectAltNames: [spiffe://example.org/ns/default/sa/echo-alt]
            labels: {team: a}
            selector: {app: echo}
          - name: waypoint
            namespace: default
            hostname: waypoint.default.mesh.internal
            vips: [10.96.0.2]
            ports: {15008: 15008}
        authorizationPolicies:
          - metadata: {name: allow-sleep, namespace: default}
            spec:
              selector:
                matchLabels: {app: echo}
              action: ALLOW
              rules:
                - from:
                    - source:
                        principals: [example.org/ns/default/sa/sleep]
                        notPrincipals: ["*/sa/evil"]
                        requestPrincipals: ["issuer/*"]
                        notRequestPrincipals: [issuer/bad]
                        namespaces: [default]
                        notNamespaces: [kube-system]
                        ipBlocks: [10.0.0.0/8, 192.168.1.7]
                        notIpBlocks: [10.1.2.3/16]
                        remoteIpBlocks: ["2001:db8::/32"]
                        notRemoteIpBlocks: [172.16.0.0/12]
                  to:
                    - operation:
                        ports: ["8080", 9090]
                        notPorts: ["15000"]
                        hosts: ["*.example.org"]
                        notHosts: [bad.example.org]
                        methods: [GET]
                        notMethods: [DELETE]
                        paths: [/api/*]
                        notPaths: [/admin]
                  when:
                    - key: request.headers[x-env]
                      values: [prod]
                      notValues: [dev]
          - apiVersion: security.istio.io/v1
            kind: AuthorizationPolicy
            metadata:
              name: ext-authz
              namespace: istio-system
              labels: {owner: platform}
              annotations: {note: "anything: goes"}
            spec:
              targetRefs:
                - kind: Gateway
                  group: gateway.networking.k8s.io
                  name: waypoint
              action: CUSTOM
              provider: {name: my-ext-authz}
              rules: [{}]
        peerAuthentications:
          - metadata: {name: echo-strict, namespace: default}
            spec:
              selector: {matchLabels: {app: echo}}
              mtls: {mode: STRICT}
              portLevelMtls:
                "9090": {mode: permissive}
        """;

    [Fact]
    public void A_workload_with_Istios_waypoint_label_is_a_waypoint_proxy_and_others_are_not()
    {
        var config = LoadOk("""
            workloads:
              - {name: waypoint, namespace: default, addresses: [10.0.0.1], labels: {gateway.istio.io/managed: istio.io-mesh-controller, gateway.networking.k8s.io/gateway-name: waypoint}}
              - {name: app, namespace: default, addresses: [10.0.0.2], labels: {gateway.istio.io/managed: something-else}}
            """);
        Assert.True(config.Workloads[0].IsWaypointProxy);
        Assert.False(config.Workloads[1].IsWaypointProxy);
    }

    [Fact]
    public void FullConfig_MapsEveryField()
    {
        var config = LoadOk(FullConfig, generation: 7);

        Assert.Equal("example.org", config.TrustDomain);
        Assert.Equal(7, config.Generation);
        Assert.Equal(SourceName, config.Source);

        var echo = config.Workloads[0];
        Assert.Equal("cluster1//Pod/default/echo-1", echo.Uid);
        Assert.Equal("echo-1", echo.Name);
        Assert.Equal("default", echo.Namespace);
        Assert.Equal("echo", echo.ServiceAccount);
        Assert.Equal("spiffe://example.org/ns/default/sa/echo", echo.Identity);
        Assert.Equal([IPAddress.Parse("10.0.0.1"), IPAddress.Parse("fd00::1"), IPAddress.Parse("10.0.0.9")], echo.Addresses.ToArray());
        Assert.Equal("node-a", echo.Node);
        Assert.Equal("net1", echo.Network);
        Assert.Equal(new Locality("us-east1", "us-east1-b", "rack1"), echo.Locality);
        Assert.Equal("us-east1/us-east1-b/rack1", echo.Locality.ToString());
        Assert.Equal("echo", echo.Labels["app"]);
        Assert.Equal("v1", echo.Labels["app.kubernetes.io/version"]);
        Assert.Equal(WorkloadProtocol.Tcp, echo.Protocol);
        Assert.Equal(new NamespacedName("default", "waypoint"), echo.Waypoint);
        Assert.Equal(2, echo.Services.Count);
        var echoPorts = echo.Services["default/echo.default.svc.cluster.local"];
        Assert.Equal(8080, echoPorts[80]);
        Assert.Equal(0, echoPorts[443]);
        // "namespace/name" references are normalized to "namespace/hostname".
        Assert.Empty(echo.Services["default/waypoint.default.mesh.internal"]);

        var waypoint0 = config.Workloads[1];
        Assert.Equal("default/waypoint-0", waypoint0.Uid);
        Assert.Equal("default", waypoint0.ServiceAccount);
        Assert.Equal("spiffe://example.org/ns/default/sa/default", waypoint0.Identity);
        Assert.Equal("local", waypoint0.Node);
        Assert.Equal("", waypoint0.Network);
        Assert.Equal(new Locality("eu", "eu-1", ""), waypoint0.Locality);
        Assert.Equal(WorkloadProtocol.Hbone, waypoint0.Protocol);
        Assert.Null(waypoint0.Waypoint);
        Assert.Empty(waypoint0.Labels);
        Assert.Empty(waypoint0.Services);

        var echoService = config.Services[0];
        Assert.Equal("echo", echoService.Name);
        Assert.Equal("default", echoService.Namespace);
        Assert.Equal("echo.default.svc.cluster.local", echoService.Hostname);
        Assert.Equal("default/echo.default.svc.cluster.local", echoService.Key);
        Assert.Equal([IPAddress.Parse("10.96.0.1"), IPAddress.Parse("fd00:96::1")], echoService.Vips.ToArray());
        Assert.Equal(new Dictionary<int, int> { [80] = 8080, [443] = 443, [9090] = 9090 }, echoService.Ports);
        Assert.Equal(new NamespacedName("default", "waypoint"), echoService.Waypoint);
        Assert.Equal(["spiffe://example.org/ns/default/sa/echo-alt"], echoService.SubjectAltNames.ToArray());
        Assert.Equal("a", echoService.Labels["team"]);
        Assert.Equal("echo", echoService.Selector!["app"]);
        Assert.Equal("waypoint.default.mesh.internal", config.Services[1].Hostname);
        Assert.Null(config.Services[1].Selector);

        var allow = config.AuthorizationPolicies[0];
        Assert.Equal(("allow-sleep", "default"), (allow.Name, allow.Namespace));
        Assert.Equal("echo", allow.Selector!.MatchLabels["app"]);
        Assert.Empty(allow.TargetRefs);
        Assert.Equal(AuthorizationAction.Allow, allow.Action);
        Assert.Null(allow.Provider);
        var rule = Assert.Single(allow.Rules);
        var source = Assert.Single(rule.From);
        Assert.Equal(["example.org/ns/default/sa/sleep"], source.Principals.ToArray());
        Assert.Equal(["*/sa/evil"], source.NotPrincipals.ToArray());
        Assert.Equal(["issuer/*"], source.RequestPrincipals.ToArray());
        Assert.Equal(["issuer/bad"], source.NotRequestPrincipals.ToArray());
        Assert.Equal(["default"], source.Namespaces.ToArray());
        Assert.Equal(["kube-system"], source.NotNamespaces.ToArray());
        Assert.Equal([IPNetwork.Parse("10.0.0.0/8"), IPNetwork.Parse("192.168.1.7/32")], source.IpBlocks.ToArray());
        Assert.Equal([IPNetwork.Parse("10.1.0.0/16")], source.NotIpBlocks.ToArray()); // host bits masked, as Envoy does
        Assert.Equal([IPNetwork.Parse("2001:db8::/32")], source.RemoteIpBlocks.ToArray());
        Assert.Equal([IPNetwork.Parse("172.16.0.0/12")], source.NotRemoteIpBlocks.ToArray());
        var operation = Assert.Single(rule.To);
        Assert.Equal([8080, 9090], operation.Ports.ToArray());
        Assert.Equal([15000], operation.NotPorts.ToArray());
        Assert.Equal(["*.example.org"], operation.Hosts.ToArray());
        Assert.Equal(["bad.example.org"], operation.NotHosts.ToArray());
        Assert.Equal(["GET"], operation.Methods.ToArray());
        Assert.Equal(["DELETE"], operation.NotMethods.ToArray());
        Assert.Equal(["/api/*"], operation.Paths.ToArray());
        Assert.Equal(["/admin"], operation.NotPaths.ToArray());
        var condition = Assert.Single(rule.When);
        Assert.Equal("request.headers[x-env]", condition.Key);
        Assert.Equal(["prod"], condition.Values.ToArray());
        Assert.Equal(["dev"], condition.NotValues.ToArray());

        var custom = config.AuthorizationPolicies[1];
        Assert.Equal("istio-system/ext-authz", custom.Key);
        Assert.Null(custom.Selector);
        var targetRef = Assert.Single(custom.TargetRefs);
        Assert.Equal(("gateway.networking.k8s.io", "Gateway", "waypoint"), (targetRef.Group, targetRef.Kind, targetRef.Name));
        Assert.Null(targetRef.Namespace);
        Assert.Equal(AuthorizationAction.Custom, custom.Action);
        Assert.Equal("my-ext-authz", custom.Provider);
        var matchAll = Assert.Single(custom.Rules);
        Assert.True(matchAll.From.IsEmpty && matchAll.To.IsEmpty && matchAll.When.IsEmpty);

        var peer = Assert.Single(config.PeerAuthentications);
        Assert.Equal("default/echo-strict", peer.Key);
        Assert.Equal("echo", peer.Selector!.MatchLabels["app"]);
        Assert.Equal(MtlsMode.Strict, peer.Mtls);
        Assert.Equal(MtlsMode.Permissive, peer.PortLevelMtls[9090]);
    }

    [Fact]
    public void EmptyMapping_IsAnEmptyMesh()
    {
        var config = LoadOk("{}");
        Assert.Equal("cluster.local", config.TrustDomain);
        Assert.Empty(config.Workloads);
        Assert.Empty(config.Services);
        Assert.Empty(config.AuthorizationPolicies);
        Assert.Empty(config.PeerAuthentications);
    }

    [Fact]
    public void NullSections_AreEmpty()
    {
        var config = LoadOk("""
            trustDomain:
            workloads:
            services: []
            authorizationPolicies: ~
            peerAuthentications: null
            """);
        Assert.Equal("cluster.local", config.TrustDomain);
        Assert.Empty(config.Workloads);
    }

    [Fact]
    public void ShippedDefaultFile_LoadsWithoutErrors()
    {
        var path = Path.Combine(RepoRoot(), "deploy", "local", "ambient.yaml");
        var result = ConfigLoader.LoadFile(path, 1);
        Assert.True(result.Ok, string.Join("\n", result.Errors));
        var config = result.Config!;
        Assert.Equal(path, config.Source);
        Assert.Equal("cluster.local", config.TrustDomain);

        var sleep = config.Workloads.Single(w => w.Name == "sleep");
        Assert.Equal(("default", "sleep", "local"), (sleep.Namespace, sleep.ServiceAccount, sleep.Node));
        Assert.Equal([IPAddress.Parse("127.0.0.10")], sleep.Addresses.ToArray());
        Assert.Equal("spiffe://cluster.local/ns/default/sa/sleep", sleep.Identity);

        var echo = config.Workloads.Single(w => w.Name == "echo");
        Assert.Equal(("default", "echo", "local"), (echo.Namespace, echo.ServiceAccount, echo.Node));
        Assert.Equal([IPAddress.Parse("127.0.0.20")], echo.Addresses.ToArray());
        Assert.Equal("echo", echo.Labels["app"]);

        var service = Assert.Single(config.Services);
        Assert.Equal(("echo", "default"), (service.Name, service.Namespace));
        Assert.Equal([IPAddress.Parse("10.96.0.10")], service.Vips.ToArray());
        Assert.Equal(8080, service.Ports[80]);

        var snapshot = new MeshSnapshot(config);
        var endpoint = Assert.Single(snapshot.EndpointsOf(service, 80));
        Assert.Same(echo, endpoint.Workload);
        Assert.Equal(8080, endpoint.TargetPort);

        var policy = Assert.Single(snapshot.PoliciesFor(echo));
        Assert.Equal(AuthorizationAction.Allow, policy.Action);
        Assert.Equal("cluster.local/ns/default/sa/sleep", Assert.Single(Assert.Single(policy.Rules).From).Principals.Single());
        Assert.Empty(snapshot.PoliciesFor(sleep));

        var peer = Assert.Single(config.PeerAuthentications);
        Assert.Equal(MtlsMode.Permissive, peer.Mtls);
        Assert.Equal(MeshConfig.RootNamespace, peer.Namespace);
    }

    [Fact]
    public void EmbeddedDefault_IsTheShippedFile()
    {
        var shipped = System.IO.File.ReadAllText(Path.Combine(RepoRoot(), "deploy", "local", "ambient.yaml"));
        Assert.Equal(shipped.ReplaceLineEndings(), ConfigLoader.ReadEmbeddedDefault().ReplaceLineEndings());

        var result = ConfigLoader.LoadEmbeddedDefault(3);
        Assert.True(result.Ok, string.Join("\n", result.Errors));
        Assert.Equal(3, result.Config!.Generation);
        Assert.Equal(ConfigLoader.EmbeddedDefaultResourceName, result.Config.Source);
        Assert.Equal(2, result.Config.Workloads.Length);
    }

    [Fact]
    public void LoadFile_MissingFile_IsAnErrorNotAnException()
    {
        var path = Path.Combine(Path.GetTempPath(), "ambient-missing-" + Guid.NewGuid().ToString("N"), "ambient.yaml");
        var result = ConfigLoader.LoadFile(path, 1);
        Assert.False(result.Ok);
        Assert.Null(result.Config);
        var error = Assert.Single(result.Errors);
        Assert.Equal((path, 0, 0, ""), (error.File, error.Line, error.Column, error.FieldPath));
        Assert.StartsWith("cannot read config file: ", error.Message);
        Assert.StartsWith(path + ": cannot read config file", error.ToString());
    }

    [Fact]
    public void LoadFile_InvalidUtf8_IsReported()
    {
        var path = Path.GetTempFileName();
        try
        {
            System.IO.File.WriteAllBytes(path, [.. Encoding.UTF8.GetBytes("trustDomain: "), 0xC3, 0x28]);
            var error = Assert.Single(ConfigLoader.LoadFile(path, 1).Errors);
            Assert.Equal("config file is not valid UTF-8", error.Message);
        }
        finally
        {
            System.IO.File.Delete(path);
        }
    }

    [Fact]
    public void LoadFile_Utf8Bom_IsAccepted()
    {
        var path = Path.GetTempFileName();
        try
        {
            System.IO.File.WriteAllText(path, MinimalWorkload, new UTF8Encoding(encoderShouldEmitUTF8Identifier: true));
            Assert.True(ConfigLoader.LoadFile(path, 1).Ok);
        }
        finally
        {
            System.IO.File.Delete(path);
        }
    }

    [Fact]
    public void ConfigError_ToString_HasFileLineColumnFieldAndMessage()
    {
        var error = new ConfigError("ambient.yaml", 12, 7, "workloads[1].addresses[0]", "'10.0.0.300' is not an IP address");
        Assert.Equal("ambient.yaml:12:7: workloads[1].addresses[0]: '10.0.0.300' is not an IP address", error.ToString());
        Assert.Equal("workloads[1]", error.ObjectPath);
        Assert.Equal("ambient.yaml:3:1: bad", new ConfigError("ambient.yaml", 3, 1, "", "bad").ToString());
        Assert.Equal("trustDomain", new ConfigError("f", 1, 1, "trustDomain", "x").ObjectPath);
        Assert.Equal("", new ConfigError("f", 1, 1, "", "x").ObjectPath);
    }

    [Fact]
    public void Workload_Identity_FollowsWithExpressions()
    {
        var workload = LoadOk(MinimalWorkload).Workloads[0];
        Assert.Equal("spiffe://cluster.local/ns/default/sa/default", workload.Identity);
        var renamed = workload with { ServiceAccount = "other", TrustDomain = "td.example" };
        Assert.Equal("spiffe://td.example/ns/default/sa/other", renamed.Identity);
        Assert.Equal("spiffe://cluster.local/ns/default/sa/default", workload.Identity);
    }
}

using System.Net;
using Ambient.Config;
using static Ambient.Tests.Config.ConfigTestHelpers;

namespace Ambient.Tests.Config;

/// <summary>Realistic Istio manifests (as found in Istio docs/repos) pasted into the policy lists, and policy validation rules.</summary>
public class IstioPolicyTests
{
    [Fact]
    public void IstioExampleManifests_Load()
    {
        var config = LoadOk("""
            authorizationPolicies:
              # Allow-by-principal (metadata/spec shape, no apiVersion/kind).
              - metadata:
                  name: httpbin-allow-sleep
                  namespace: foo
                spec:
                  selector:
                    matchLabels:
                      app: httpbin
                      version: v1
                  action: ALLOW
                  rules:
                  - from:
                    - source:
                        principals: ["cluster.local/ns/default/sa/sleep"]
                    - source:
                        namespaces: ["dev"]
                    to:
                    - operation:
                        methods: ["GET"]
                        paths: ["/info*"]
                    when:
                    - key: request.auth.claims[iss]
                      values: ["https://accounts.google.com"]

              # Deny-by-namespace.
              - metadata:
                  name: deny-from-legacy
                  namespace: foo
                spec:
                  action: DENY
                  rules:
                  - from:
                    - source:
                        notNamespaces: ["foo", "istio-system"]

              # ipBlocks + remoteIpBlocks.
              - metadata:
                  name: ingress-allowlist
                  namespace: istio-system
                spec:
                  selector:
                    matchLabels:
                      app: istio-ingressgateway
                  action: ALLOW
                  rules:
                  - from:
                    - source:
                        ipBlocks: ["1.2.3.4", "5.6.7.0/24"]
                        remoteIpBlocks: ["203.0.113.0/24"]

              # notPorts: deny everything except the health port.
              - metadata:
                  name: deny-all-but-health
                  namespace: foo
                spec:
                  action: DENY
                  rules:
                  - to:
                    - operation:
                        notPorts: ["15021"]

              # Full Kubernetes document form, as kubectl would take it.
              - apiVersion: security.istio.io/v1
                kind: AuthorizationPolicy
                metadata:
                  name: productpage-viewer
                  namespace: default
                  labels:
                    app.kubernetes.io/part-of: bookinfo
                  annotations:
                    description: "allow GETs to productpage"
                spec:
                  selector:
                    matchLabels:
                      app: productpage
                  action: ALLOW
                  rules:
                  - to:
                    - operation:
                        methods: ["GET"]
                    when:
                    - key: source.ip
                      notValues: ["10.1.2.0/24"]
                    - key: destination.port
                      values: ["9080"]

              # Waypoint-attached policy (beta API, targetRefs).
              - apiVersion: security.istio.io/v1beta1
                kind: AuthorizationPolicy
                metadata:
                  name: waypoint-l7
                  namespace: default
                spec:
                  targetRefs:
                  - kind: Service
                    group: ""
                    name: reviews
                  action: DENY
                  rules:
                  - to:
                    - operation:
                        methods: ["DELETE"]

              # Allow nothing (empty spec) and allow everything (one empty rule).
              - metadata: {name: allow-nothing, namespace: locked}
                spec: {}
              - metadata: {name: allow-all, namespace: open}
                spec:
                  rules:
                  - {}

            peerAuthentications:
              - apiVersion: security.istio.io/v1
                kind: PeerAuthentication
                metadata:
                  name: default
                  namespace: istio-system
                spec:
                  mtls:
                    mode: STRICT
              - metadata:
                  name: finance
                  namespace: finance
                spec:
                  selector:
                    matchLabels:
                      app: finance
                  mtls:
                    mode: STRICT
                  portLevelMtls:
                    8080:
                      mode: DISABLE
              - metadata:
                  name: legacy
                  namespace: legacy
            """);

        var policies = config.AuthorizationPolicies.ToDictionary(p => p.Name);
        Assert.Equal(8, policies.Count);

        var allow = policies["httpbin-allow-sleep"];
        Assert.Equal(2, allow.Rules[0].From.Length);
        Assert.Equal("cluster.local/ns/default/sa/sleep", allow.Rules[0].From[0].Principals.Single());
        Assert.Equal("dev", allow.Rules[0].From[1].Namespaces.Single());
        Assert.Equal("/info*", allow.Rules[0].To[0].Paths.Single());
        Assert.Equal("request.auth.claims[iss]", allow.Rules[0].When[0].Key);

        var deny = policies["deny-from-legacy"];
        Assert.Equal(AuthorizationAction.Deny, deny.Action);
        Assert.Equal(["foo", "istio-system"], deny.Rules[0].From[0].NotNamespaces.ToArray());

        var ingress = policies["ingress-allowlist"].Rules[0].From[0];
        Assert.Equal([IPNetwork.Parse("1.2.3.4/32"), IPNetwork.Parse("5.6.7.0/24")], ingress.IpBlocks.ToArray());
        Assert.Equal([IPNetwork.Parse("203.0.113.0/24")], ingress.RemoteIpBlocks.ToArray());

        Assert.Equal([15021], policies["deny-all-but-health"].Rules[0].To[0].NotPorts.ToArray());

        var viewer = policies["productpage-viewer"];
        Assert.Equal("default", viewer.Namespace);
        Assert.Equal(["10.1.2.0/24"], viewer.Rules[0].When[0].NotValues.ToArray());
        Assert.Equal(["9080"], viewer.Rules[0].When[1].Values.ToArray());

        var waypoint = policies["waypoint-l7"];
        Assert.Equal(("", "Service", "reviews"), (waypoint.TargetRefs[0].Group, waypoint.TargetRefs[0].Kind, waypoint.TargetRefs[0].Name));

        Assert.Empty(policies["allow-nothing"].Rules);
        Assert.Equal(AuthorizationAction.Allow, policies["allow-nothing"].Action);
        Assert.Single(policies["allow-all"].Rules);

        var peers = config.PeerAuthentications.ToDictionary(p => p.Name);
        Assert.Equal(MtlsMode.Strict, peers["default"].Mtls);
        Assert.Equal(MtlsMode.Disable, peers["finance"].PortLevelMtls[8080]);
        Assert.Equal(MtlsMode.Unset, peers["legacy"].Mtls);
    }

    private static string Policy(string spec) =>
        "authorizationPolicies:\n  - metadata: {name: p, namespace: default}\n    spec:\n" +
        string.Join("\n", spec.Split('\n').Select(l => "      " + l));

    [Fact]
    public void IpBlocks_AreValidated()
    {
        var result = Load(Policy("""
            rules:
              - from:
                  - source:
                      ipBlocks: [10.0.0.0/33, 10.0.0.1/8, "300.1.1.1", "fd00::/129"]
            """));
        Assert.Equal(3, result.Errors.Length);
        const string prefix = "authorizationPolicies[0].spec.rules[0].from[0].source.ipBlocks";
        AssertError(result.Errors[0], 7, 28, prefix + "[0]", "'10.0.0.0/33' is not an IP address or CIDR block");
        AssertError(result.Errors[1], 7, 53, prefix + "[2]", "'300.1.1.1' is not an IP address or CIDR block");
        AssertError(result.Errors[2], 7, 66, prefix + "[3]", "'fd00::/129' is not an IP address or CIDR block");
    }

    [Fact]
    public void Ports_AreValidated()
    {
        var result = Load(Policy("""
            rules:
              - to:
                  - operation:
                      notPorts: ["0", "http", "65536"]
            """));
        Assert.Equal(3, result.Errors.Length);
        const string prefix = "authorizationPolicies[0].spec.rules[0].to[0].operation.notPorts";
        AssertError(result.Errors[0], 7, 28, prefix + "[0]", "port 0 is out of range (1-65535)");
        AssertError(result.Errors[1], 7, 33, prefix + "[1]", "'http' is not a valid port (expected a number 1-65535)");
        AssertError(result.Errors[2], 7, 41, prefix + "[2]", "port 65536 is out of range (1-65535)");
    }

    [Fact]
    public void Custom_RequiresProvider()
    {
        AssertSingleError(Policy("action: CUSTOM"), 4, 15, "authorizationPolicies[0].spec.provider",
            "action CUSTOM requires 'provider' with a name");
    }

    [Fact]
    public void Provider_OnlyWithCustom()
    {
        AssertSingleError(Policy("provider: {name: ext}"), 4, 17, "authorizationPolicies[0].spec.provider",
            "'provider' can only be set with action CUSTOM");
    }

    [Fact]
    public void SelectorAndTargetRefs_AreExclusive()
    {
        AssertSingleError(Policy("selector: {matchLabels: {app: a}}\ntargetRefs: [{kind: Gateway, group: gateway.networking.k8s.io, name: w}]"),
            4, 17, "authorizationPolicies[0].spec.selector", "only one of 'selector' or 'targetRefs' can be set");
    }

    [Fact]
    public void TargetRef_KindAndGroupAreValidated()
    {
        var result = Load(Policy("targetRefs:\n  - {kind: Gatway, name: w}\n  - {kind: Gateway, name: w}\n  - {kind: Service, name: s, namespace: other}"));
        Assert.Equal(3, result.Errors.Length);
        AssertError(result.Errors[0], 5, 18, "authorizationPolicies[0].spec.targetRefs[0].kind",
            "unsupported targetRef kind 'Gatway' (expected one of Gateway, GatewayClass, Service, ServiceEntry; did you mean 'Gateway'?)");
        AssertError(result.Errors[1], 6, 11, "authorizationPolicies[0].spec.targetRefs[1].group",
            "targetRef kind 'Gateway' must have group 'gateway.networking.k8s.io', got ''");
        AssertError(result.Errors[2], 7, 47, "authorizationPolicies[0].spec.targetRefs[2].namespace",
            "targetRef namespace 'other' must match the policy namespace 'default' (cross-namespace references are not supported)");
    }

    [Fact]
    public void EmptyFromList_IsRejected()
    {
        AssertSingleError(Policy("rules:\n  - from: []"), 5, 17, "authorizationPolicies[0].spec.rules[0].from",
            "'from' must not be empty (omit it to match any source)");
    }

    [Fact]
    public void FromWithoutSource_IsRejected()
    {
        AssertSingleError(Policy("rules:\n  - from: [{}]"), 5, 18, "authorizationPolicies[0].spec.rules[0].from[0].source",
            "missing required field 'source'");
    }

    [Fact]
    public void EmptySourceAndOperation_AreRejected()
    {
        var result = Load(Policy("rules:\n  - from: [{source: {}}]\n    to: [{operation: {}}]"));
        Assert.Equal(2, result.Errors.Length);
        AssertError(result.Errors[0], 5, 27, "authorizationPolicies[0].spec.rules[0].from[0].source",
            "'source' must not be empty (set at least one field, or omit 'from' to match any source)");
        AssertError(result.Errors[1], 6, 28, "authorizationPolicies[0].spec.rules[0].to[0].operation",
            "'operation' must not be empty (set at least one field, or omit 'to' to match any destination)");
    }

    [Fact]
    public void Conditions_AreValidated()
    {
        var result = Load(Policy("""
            rules:
              - when:
                  - key: source.ipp
                    values: [10.0.0.1]
                  - key: request.headers[]
                    values: [x]
                  - key: destination.port
                    values: ["http"]
                  - key: source.ip
                    notValues: ["10.0.0.0/99"]
                  - key: connection.sni
            """));
        Assert.Equal(5, result.Errors.Length);
        const string prefix = "authorizationPolicies[0].spec.rules[0].when";
        AssertError(result.Errors[0], 6, 20, prefix + "[0].key", "unknown condition key 'source.ipp' (did you mean 'source.ip'?)");
        AssertError(result.Errors[1], 8, 20, prefix + "[1].key", "condition key 'request.headers[]' must be 'request.headers[<name>]'");
        AssertError(result.Errors[2], 11, 24, prefix + "[2].values[0]", "'http' is not a valid port (expected a number 1-65535)");
        AssertError(result.Errors[3], 13, 27, prefix + "[3].notValues[0]", "'10.0.0.0/99' is not an IP address or CIDR block");
        AssertError(result.Errors[4], 14, 15, prefix + "[4]", "a condition needs 'values' or 'notValues'");
    }

    [Fact]
    public void Principals_MustNotHaveTheSpiffeScheme()
    {
        AssertSingleError(Policy("rules:\n  - from: [{source: {principals: [\"spiffe://cluster.local/ns/default/sa/sleep\"]}}]"),
            5, 41, "authorizationPolicies[0].spec.rules[0].from[0].source.principals[0]",
            "'spiffe://cluster.local/ns/default/sa/sleep': principals are written without the 'spiffe://' prefix (use 'cluster.local/ns/default/sa/sleep')");
    }

    [Fact]
    public void Wildcards_OnlyAsPrefixOrSuffix()
    {
        AssertSingleError(Policy("rules:\n  - from: [{source: {principals: [\"cluster.local/ns/*/sa/x\"]}}]"),
            5, 41, "authorizationPolicies[0].spec.rules[0].from[0].source.principals[0]",
            "'cluster.local/ns/*/sa/x': wildcard '*' is only supported as a prefix or suffix");
    }

    [Fact]
    public void MetadataIsRequired()
    {
        var result = Load("""
            authorizationPolicies:
              - spec: {}
              - metadata: {name: p}
            """);
        Assert.Equal(2, result.Errors.Length);
        AssertError(result.Errors[0], 2, 5, "authorizationPolicies[0].metadata", "missing required field 'metadata'");
        AssertError(result.Errors[1], 3, 15, "authorizationPolicies[1].metadata.namespace", "missing required field 'namespace'");
    }

    [Fact]
    public void DocumentForm_KindAndApiVersionAreChecked()
    {
        var result = Load("""
            authorizationPolicies:
              - apiVersion: security.istio.io/v1
                kind: PeerAuthentication
                metadata: {name: a, namespace: default}
              - apiVersion: networking.istio.io/v1
                kind: AuthorizationPolicy
                metadata: {name: b, namespace: default}
              - kind: AuthorizationPolicy
                metadata: {name: c, namespace: default}
            """);
        Assert.Equal(3, result.Errors.Length);
        AssertError(result.Errors[0], 3, 11, "authorizationPolicies[0].kind", "kind must be 'AuthorizationPolicy' in this list, got 'PeerAuthentication'");
        AssertError(result.Errors[1], 5, 17, "authorizationPolicies[1].apiVersion",
            "unsupported apiVersion 'networking.istio.io/v1' (expected security.istio.io/v1 or security.istio.io/v1beta1)");
        AssertError(result.Errors[2], 8, 5, "authorizationPolicies[2].apiVersion", "missing required field 'apiVersion'");
    }

    [Fact]
    public void DuplicatePolicy_IsReported()
    {
        AssertSingleError("""
            authorizationPolicies:
              - metadata: {name: p, namespace: default}
              - metadata: {name: p, namespace: default}
            """, 3, 22, "authorizationPolicies[1].metadata.name",
            "duplicate AuthorizationPolicy 'default/p' (already defined by authorizationPolicies[0] at line 2)");
    }

    [Fact]
    public void PortLevelMtls_RequiresSelector()
    {
        AssertSingleError("""
            peerAuthentications:
              - metadata: {name: p, namespace: default}
                spec:
                  mtls: {mode: STRICT}
                  portLevelMtls:
                    8080: {mode: DISABLE}
            """, 6, 9, "peerAuthentications[0].spec.portLevelMtls", "portLevelMtls requires a non-empty selector (as in Istio)");
    }

    [Fact]
    public void PortLevelMtls_PortsAndModesAreValidated()
    {
        var result = Load("""
            peerAuthentications:
              - metadata: {name: p, namespace: default}
                spec:
                  selector: {matchLabels: {app: a}}
                  portLevelMtls:
                    http: {mode: DISABLE}
                    8080: {mode: OFF}
            """);
        Assert.Equal(2, result.Errors.Length);
        AssertError(result.Errors[0], 6, 9, "peerAuthentications[0].spec.portLevelMtls.http", "'http' is not a valid port (expected a number 1-65535)");
        AssertError(result.Errors[1], 7, 22, "peerAuthentications[0].spec.portLevelMtls[\"8080\"].mode",
            "'OFF' is not a valid mTLS mode (expected one of UNSET, DISABLE, PERMISSIVE, STRICT)");
    }

    [Fact]
    public void SecondNamespaceWidePeerAuthentication_IsRejected()
    {
        AssertSingleError("""
            peerAuthentications:
              - metadata: {name: a, namespace: istio-system}
                spec: {mtls: {mode: STRICT}}
              - metadata: {name: b, namespace: istio-system}
                spec: {mtls: {mode: PERMISSIVE}}
              - metadata: {name: c, namespace: istio-system}
                spec: {selector: {matchLabels: {app: x}}, mtls: {mode: DISABLE}}
            """, 4, 22, "peerAuthentications[1].metadata.name",
            "more than one mesh-wide PeerAuthentication (no selector) in namespace 'istio-system': 'istio-system/a' (peerAuthentications[0] at line 2) already is one");
    }
}

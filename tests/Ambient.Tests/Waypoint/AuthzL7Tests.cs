using System.Collections.Immutable;
using System.Net;
using System.Text.Json;
using Ambient.Config;
using Ambient.Waypoint.Routing;
using Ambient.Waypoint.Security;
using Microsoft.AspNetCore.Http;
using static Ambient.Tests.Waypoint.RouteTestSupport;

namespace Ambient.Tests.Waypoint;

public class AuthzL7Tests
{
    private const string Sleep = "spiffe://cluster.local/ns/default/sa/sleep";

    private static AuthorizationPolicy Policy(string action, string rules, string name = "p")
    {
        var (policy, errors) = PolicyObjectParser.ParseAuthorizationPolicy(Node($"{{metadata: {{name: {name}, namespace: foo}}, spec: {{action: {action}, rules: {rules}}}}}"), Source);
        Assert.True(errors.IsEmpty, string.Join("\n", errors));
        return policy!;
    }

    private static RequestFacts Facts(
        string method = "GET", string path = "/", string authority = "httpbin.foo:8000", string? identity = Sleep,
        string sourceIp = "10.0.0.1", int port = 8000, (string, string)[]? headers = null, JwtIdentity? jwt = null, string? remoteIp = null)
    {
        var dictionary = new HeaderDictionary();
        foreach (var (name, value) in headers ?? []) dictionary.Append(name, value);
        return new RequestFacts(identity, IPAddress.Parse(sourceIp), IPAddress.Parse("10.0.0.9"), port,
            new HttpRequestHead(method, "http", authority, path, "", dictionary), jwt, remoteIp is null ? null : IPAddress.Parse(remoteIp));
    }

    private static JwtIdentity Jwt(string iss = "https://issuer", string sub = "alice", string claims = """{"groups": ["dev", "ops"], "level": 3, "email": "alice@example.com"}""") =>
        new(iss, sub, ["api"], "web-app", JsonDocument.Parse(claims).RootElement.Clone());

    private static bool Allowed(AuthorizationPolicy policy, RequestFacts facts) => L7Authorizer.Evaluate(L7PolicySet.Build([policy]), facts).Allowed;

    public static TheoryData<string, string, bool> AllowCases => new()
    {
        // an ALLOW rule, the request (by name below), whether it is allowed
        { "[{to: [{operation: {methods: [GET]}}]}]", "get", true },
        { "[{to: [{operation: {methods: [GET]}}]}]", "post", false },
        { "[{to: [{operation: {notMethods: [POST]}}]}]", "get", true },
        { "[{to: [{operation: {notMethods: [POST]}}]}]", "post", false },
        { "[{to: [{operation: {paths: [/info]}}]}]", "info", true },
        { "[{to: [{operation: {paths: [/info]}}]}]", "info-deep", false },
        { "[{to: [{operation: {paths: ['/info*']}}]}]", "info-deep", true },
        { "[{to: [{operation: {paths: ['*.html']}}]}]", "html", true },
        { "[{to: [{operation: {paths: ['*.html']}}]}]", "info", false },
        { "[{to: [{operation: {notPaths: ['/admin*']}}]}]", "admin", false },
        { "[{to: [{operation: {notPaths: ['/admin*']}}]}]", "info", true },
        { "[{to: [{operation: {hosts: [httpbin.foo]}}]}]", "get", true },
        { "[{to: [{operation: {hosts: [HTTPBIN.foo:8000]}}]}]", "get", true },
        { "[{to: [{operation: {hosts: ['*.foo']}}]}]", "get", true },
        { "[{to: [{operation: {hosts: [other.foo]}}]}]", "get", false },
        { "[{to: [{operation: {notHosts: ['httpbin*']}}]}]", "get", false },
        { "[{to: [{operation: {ports: ['8000']}}]}]", "get", true },
        { "[{to: [{operation: {ports: ['9000']}}]}]", "get", false },
        { "[{to: [{operation: {notPorts: ['8000']}}]}]", "get", false },
        { "[{to: [{operation: {methods: [GET], paths: [/admin]}}]}]", "get", false }, // all fields of one operation
        { "[{to: [{operation: {methods: [POST]}}, {operation: {paths: ['/']}}]}]", "get", true }, // any operation
        { "[{from: [{source: {principals: [cluster.local/ns/default/sa/sleep]}}]}]", "get", true },
        { "[{from: [{source: {principals: ['*/sa/sleep']}}]}]", "get", true },
        { "[{from: [{source: {principals: [cluster.local/ns/default/sa/other]}}]}]", "get", false },
        { "[{from: [{source: {principals: ['*']}}]}]", "plaintext", false },
        { "[{from: [{source: {notPrincipals: ['*']}}]}]", "plaintext", true },
        { "[{from: [{source: {namespaces: [default]}}]}]", "get", true },
        { "[{from: [{source: {notNamespaces: [default]}}]}]", "get", false },
        { "[{from: [{source: {ipBlocks: [10.0.0.0/24]}}]}]", "get", true },
        { "[{from: [{source: {notIpBlocks: [10.0.0.1]}}]}]", "get", false },
        { "[{from: [{source: {remoteIpBlocks: [192.168.0.0/16]}}]}]", "forwarded", true },
        { "[{from: [{source: {remoteIpBlocks: [192.168.0.0/16]}}]}]", "get", false },
        { "[{from: [{source: {requestPrincipals: ['*']}}]}]", "jwt", true },
        { "[{from: [{source: {requestPrincipals: ['*']}}]}]", "get", false },
        { "[{from: [{source: {requestPrincipals: [https://issuer/alice]}}]}]", "jwt", true },
        { "[{from: [{source: {requestPrincipals: ['https://issuer/*']}}]}]", "jwt", true },
        { "[{from: [{source: {requestPrincipals: [https://issuer/bob]}}]}]", "jwt", false },
        { "[{from: [{source: {notRequestPrincipals: ['*']}}]}]", "get", true },
        { "[{from: [{source: {notRequestPrincipals: ['*']}}]}]", "jwt", false },
        { "[{when: [{key: 'request.headers[x-user]', values: [admin]}]}]", "admin-header", true },
        { "[{when: [{key: 'request.headers[x-user]', values: [admin]}]}]", "get", false },
        { "[{when: [{key: 'request.headers[x-user]', values: ['adm*']}]}]", "admin-header", true },
        { "[{when: [{key: 'request.headers[x-user]', notValues: [admin]}]}]", "admin-header", false },
        { "[{when: [{key: 'request.headers[x-user]', notValues: [admin]}]}]", "get", true },
        { "[{when: [{key: 'request.auth.claims[groups]', values: [ops]}]}]", "jwt", true },
        { "[{when: [{key: 'request.auth.claims[groups]', values: [qa]}]}]", "jwt", false },
        { "[{when: [{key: 'request.auth.claims[groups]', notValues: [ops]}]}]", "jwt", false },
        { "[{when: [{key: 'request.auth.claims[level]', values: ['3']}]}]", "jwt", true },
        { "[{when: [{key: 'request.auth.claims[email]', values: ['*@example.com']}]}]", "jwt", true },
        { "[{when: [{key: 'request.auth.claims[email]', values: ['*@example.com']}]}]", "get", false },
        { "[{when: [{key: request.auth.principal, values: [https://issuer/alice]}]}]", "jwt", true },
        { "[{when: [{key: request.auth.audiences, values: [api]}]}]", "jwt", true },
        { "[{when: [{key: request.auth.presenter, values: [web-app]}]}]", "jwt", true },
        { "[{when: [{key: source.ip, values: [10.0.0.0/8]}]}]", "get", true },
        { "[{when: [{key: source.ip, notValues: [10.0.0.1]}]}]", "get", false },
        { "[{when: [{key: remote.ip, values: [192.168.1.1]}]}]", "forwarded", true },
        { "[{when: [{key: destination.ip, values: [10.0.0.9]}]}]", "get", true },
        { "[{when: [{key: destination.port, values: ['8000']}]}]", "get", true },
        { "[{when: [{key: source.namespace, values: [default]}]}]", "get", true },
        { "[{when: [{key: source.principal, values: [cluster.local/ns/default/sa/sleep]}]}]", "get", true },
        { "[{when: [{key: source.serviceAccount, values: [default/sleep]}]}]", "get", true },
        { "[{when: [{key: experimental.envoy.filters.a, values: [x]}]}]", "get", false },
        { "[{}]", "get", true },
        { "[]", "get", false },
    };

    private static RequestFacts Named(string name) => name switch
    {
        "get" => Facts(),
        "post" => Facts(method: "POST"),
        "info" => Facts(path: "/info"),
        "info-deep" => Facts(path: "/info/deep"),
        "html" => Facts(path: "/index.html"),
        "admin" => Facts(path: "/admin/users"),
        "plaintext" => Facts(identity: null),
        "forwarded" => Facts(remoteIp: "192.168.1.1"),
        "jwt" => Facts(jwt: Jwt()),
        "admin-header" => Facts(headers: [("X-User", "admin")]),
        _ => throw new ArgumentException(name),
    };

    [Theory]
    [MemberData(nameof(AllowCases))]
    public void AllowPolicy_Fields(string rules, string request, bool allowed) =>
        Assert.Equal(allowed, Allowed(Policy("ALLOW", rules), Named(request)));

    [Fact]
    public void DenyIsEvaluatedFirst_AndNamed()
    {
        var set = L7PolicySet.Build([
            Policy("ALLOW", "[{to: [{operation: {methods: [GET]}}]}]", "allow-get"),
            Policy("DENY", "[{to: [{operation: {paths: ['/admin*']}}]}]", "deny-admin"),
        ]);
        var denied = L7Authorizer.Evaluate(set, Facts(path: "/admin/x"));
        Assert.Equal(L7AuthorizationVerdict.Deny("foo/deny-admin", "denied by DENY policy foo/deny-admin"), denied);
        var allowed = L7Authorizer.Evaluate(set, Facts(path: "/ok"));
        Assert.Equal((true, "foo/allow-get"), (allowed.Allowed, allowed.PolicyKey));
        var unmatched = L7Authorizer.Evaluate(set, Facts(method: "POST", path: "/ok"));
        Assert.Equal((false, (string?)null), (unmatched.Allowed, unmatched.PolicyKey));
    }

    [Fact]
    public void NoPolicies_Allow_CustomAndAuditAreSkipped()
    {
        Assert.True(L7Authorizer.Evaluate(L7PolicySet.Empty, Facts()).Allowed);
        var (custom, errors) = PolicyObjectParser.ParseAuthorizationPolicy(Node("{metadata: {name: ext, namespace: foo}, spec: {action: CUSTOM, provider: {name: opa}, rules: [{}]}}"), Source);
        Assert.True(errors.IsEmpty);
        var audit = Policy("AUDIT", "[{}]");
        Assert.True(L7Authorizer.Evaluate(L7PolicySet.Build([custom!, audit]), Facts()).Allowed);
    }

    [Fact]
    public void UnknownConditionKey_MatchesInDeny()
    {
        var deny = Policy("DENY", "[{when: [{key: experimental.envoy.filters.x, values: [y]}]}]");
        Assert.False(Allowed(deny, Facts())); // deny more when in doubt
    }

    [Fact]
    public void DenyWithRequestPrincipals_NoToken_DoesNotMatchPositiveButMatchesNegative()
    {
        var denyAnonymous = Policy("DENY", "[{from: [{source: {notRequestPrincipals: ['*']}}]}]");
        Assert.False(Allowed(denyAnonymous, Facts()));
        Assert.True(Allowed(denyAnonymous, Facts(jwt: Jwt())));
    }
}

public class AuthzWaypointScopeTests
{
    private static readonly NamespacedName Waypoint = new("foo", "waypoint");
    private static readonly NamespacedName Httpbin = new("foo", "httpbin");

    private static PolicyTargetRef Ref(string kind, string name, string? ns = null) =>
        new() { Kind = kind, Name = name, Namespace = ns, Group = kind == "Service" ? "" : "gateway.networking.k8s.io" };

    [Theory]
    [InlineData("Gateway", "waypoint", "foo", true)]
    [InlineData("Gateway", "waypoint", "bar", false)]
    [InlineData("Gateway", "other", "foo", false)]
    [InlineData("Service", "httpbin", "foo", true)]
    [InlineData("Service", "reviews", "foo", false)]
    [InlineData("GatewayClass", "istio-waypoint", "istio-system", true)]
    [InlineData("GatewayClass", "istio-waypoint", "foo", false)]
    [InlineData("GatewayClass", "istio", "istio-system", false)]
    public void TargetRefs_Attach(string kind, string name, string policyNamespace, bool applies) =>
        Assert.Equal(applies, WaypointPolicyScope.Applies([Ref(kind, name)], policyNamespace, Waypoint, Httpbin));

    [Fact]
    public void SelectorPolicies_AreNotTheWaypoints()
    {
        var selectorPolicy = new AuthorizationPolicy { Name = "s", Namespace = "foo", Selector = new WorkloadSelector(ImmutableDictionary<string, string>.Empty) };
        var servicePolicy = new AuthorizationPolicy { Name = "t", Namespace = "foo", TargetRefs = [Ref("Service", "httpbin")] };
        Assert.Equal(new[] { servicePolicy }, WaypointPolicyScope.AuthorizationPolicies([selectorPolicy, servicePolicy], Waypoint, Httpbin));
    }
}

using Ambient.Config.Routes;
using static Ambient.Tests.Waypoint.RouteTestSupport;

namespace Ambient.Tests.Waypoint;

/// <summary>DestinationRule (circuit breaking, outlier detection) and RequestAuthentication parsing.</summary>
public class RouteDestinationRuleParserTests
{
    [Fact]
    public void DestinationRule_IstioShape()
    {
        var rule = Ok(Rule("""
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata: { name: reviews-cb, namespace: default }
            spec:
              host: reviews
              trafficPolicy:
                connectionPool:
                  tcp: { maxConnections: 100, connectTimeout: 30ms }
                  http: { http1MaxPendingRequests: 10, http2MaxRequests: 1000, maxRequestsPerConnection: 10, maxRetries: 3, idleTimeout: 1h }
                outlierDetection:
                  consecutive5xxErrors: 7
                  consecutiveGatewayErrors: 3
                  interval: 5m
                  baseEjectionTime: 15m
                  maxEjectionPercent: 50
            """));
        Assert.Equal("reviews.default.svc.cluster.local", rule.ResolvedHost());
        var pool = rule.ConnectionPool!;
        Assert.Equal((100, 10, 1000, 10, 3), (pool.MaxConnections, pool.MaxPendingRequests, pool.MaxRequests, pool.MaxRequestsPerConnection, pool.MaxRetries));
        Assert.Equal(TimeSpan.FromMilliseconds(30), pool.ConnectTimeout);
        Assert.Equal(TimeSpan.FromHours(1), pool.IdleTimeout);
        var outlier = rule.OutlierDetection!;
        Assert.Equal((7, 3, 50), (outlier.Consecutive5xxErrors, outlier.ConsecutiveGatewayErrors, outlier.MaxEjectionPercent));
        Assert.Equal((TimeSpan.FromMinutes(5), TimeSpan.FromMinutes(15)), (outlier.Interval, outlier.BaseEjectionTime));
    }

    [Fact]
    public void DestinationRule_DefaultsAreIstios()
    {
        var rule = Ok(Rule("{metadata: {name: a, namespace: b}, spec: {host: reviews.b.svc.cluster.local, trafficPolicy: {connectionPool: {http: {http2MaxRequests: 5}}, outlierDetection: {}}}}"));
        Assert.Equal("reviews.b.svc.cluster.local", rule.ResolvedHost());
        Assert.Equal(int.MaxValue, rule.ConnectionPool!.MaxConnections);
        Assert.Equal(5, rule.ConnectionPool!.MaxRequests);
        Assert.Equal(new OutlierDetectionSettings(), rule.OutlierDetection);
        Assert.Equal((5, 10), (rule.OutlierDetection!.Consecutive5xxErrors, rule.OutlierDetection.MaxEjectionPercent));
    }

    [Theory]
    [InlineData("trafficPolicy: {}", "destinationRules[0].spec.host", "missing required field")]
    [InlineData("host: 'Bad_Host'", "destinationRules[0].spec.host", "not a valid hostname")]
    [InlineData("host: a, subsets: [{name: v1}]", "destinationRules[0].spec.subsets", "not supported by the Ambient waypoint")]
    [InlineData("host: a, trafficPolicy: {loadBalancer: {simple: ROUND_ROBIN}}", "destinationRules[0].spec.trafficPolicy.loadBalancer", "not supported")]
    [InlineData("host: a, trafficPolicy: {connectionPool: {tcp: {maxConnections: 0}}}", "destinationRules[0].spec.trafficPolicy.connectionPool.tcp.maxConnections", "out of range")]
    [InlineData("host: a, trafficPolicy: {connectionPool: {tcp: {connectTimeout: 0s}}}", "destinationRules[0].spec.trafficPolicy.connectionPool.tcp.connectTimeout", "at least 1ms")]
    [InlineData("host: a, trafficPolicy: {connectionPool: {http: {http1MaxPendingRequest: 1}}}", "destinationRules[0].spec.trafficPolicy.connectionPool.http.http1MaxPendingRequest", "did you mean 'http1MaxPendingRequests'")]
    [InlineData("host: a, trafficPolicy: {outlierDetection: {maxEjectionPercent: 101}}", "destinationRules[0].spec.trafficPolicy.outlierDetection.maxEjectionPercent", "out of range")]
    [InlineData("host: a, trafficPolicy: {outlierDetection: {interval: often}}", "destinationRules[0].spec.trafficPolicy.outlierDetection.interval", "not a valid duration")]
    [InlineData("host: a, trafficPolicy: {outlierDetection: {consecutiveErrors: 5}}", "destinationRules[0].spec.trafficPolicy.outlierDetection.consecutiveErrors", "not supported")]
    public void InvalidDestinationRule_IsRejected(string spec, string path, string fragment) =>
        Rejected(Rule($"{{metadata: {{name: a, namespace: b}}, spec: {{{spec}}}}}"), path, fragment);

    [Fact]
    public void DestinationRule_RejectsSecurityApiVersion() =>
        Rejected(Rule("{apiVersion: security.istio.io/v1, kind: DestinationRule, metadata: {name: a, namespace: b}, spec: {host: a}}"), "destinationRules[0].apiVersion", "networking.istio.io/v1");
}

public class RouteRequestAuthenticationParserTests
{
    private const string Jwks = """{"keys": []}""";

    [Fact]
    public void RequestAuthentication_IstioShape()
    {
        var policy = Ok(Authn($$"""
            apiVersion: security.istio.io/v1
            kind: RequestAuthentication
            metadata: { name: jwt, namespace: foo }
            spec:
              targetRefs: [{ kind: Service, group: "", name: httpbin }]
              jwtRules:
              - issuer: "testing@secure.istio.io"
                audiences: [app, web]
                jwksUri: "https://raw.githubusercontent.com/istio/istio/release-1.24/security/tools/jwt/samples/jwks.json"
                fromHeaders: [{ name: x-jwt-assertion, prefix: "Bearer " }, { name: x-token }]
                fromParams: [my_token]
                fromCookies: [session]
                forwardOriginalToken: true
                outputPayloadToHeader: x-jwt-payload
                outputClaimToHeaders: [{ header: x-sub, claim: sub }]
                timeout: 5s
              - issuer: other
                jwks: '{{Jwks}}'
            """));
        Assert.Equal("foo/jwt", policy.Key);
        Assert.Equal("httpbin", policy.TargetRefs[0].Name);
        var rule = policy.JwtRules[0];
        Assert.Equal(("testing@secure.istio.io", true, "x-jwt-payload"), (rule.Issuer, rule.ForwardOriginalToken, rule.OutputPayloadToHeader));
        Assert.Equal(new[] { "app", "web" }, rule.Audiences.AsEnumerable());
        Assert.Equal(new[] { new JwtHeaderLocation("x-jwt-assertion", "Bearer "), new JwtHeaderLocation("x-token", "") }, rule.FromHeaders.AsEnumerable());
        Assert.Equal(new[] { "my_token" }, rule.FromParams.AsEnumerable());
        Assert.Equal(new[] { "session" }, rule.FromCookies.AsEnumerable());
        Assert.Equal(new[] { new ClaimToHeader("x-sub", "sub") }, rule.OutputClaimToHeaders.AsEnumerable());
        Assert.Equal(TimeSpan.FromSeconds(5), rule.Timeout);
        Assert.Equal(Jwks, policy.JwtRules[1].Jwks);
    }

    [Fact]
    public void Selector_IsAccepted()
    {
        var policy = Ok(Authn("{metadata: {name: a, namespace: b}, spec: {selector: {matchLabels: {app: x}}, jwtRules: [{issuer: i, jwksUri: 'file:///etc/jwks.json'}]}}"));
        Assert.Equal("x", policy.Selector!.MatchLabels["app"]);
    }

    [Theory]
    [InlineData("jwtRules: [{jwksUri: 'https://a/b'}]", "requestAuthentications[0].spec.jwtRules[0].issuer", "missing required field")]
    [InlineData("jwtRules: [{issuer: i}]", "requestAuthentications[0].spec.jwtRules[0]", "set 'jwksUri' or 'jwks'")]
    [InlineData("jwtRules: [{issuer: i, jwksUri: 'not a url'}]", "requestAuthentications[0].spec.jwtRules[0].jwksUri", "not an absolute http")]
    [InlineData("jwtRules: [{issuer: i, jwks: '{\"keys\": 1}'}]", "requestAuthentications[0].spec.jwtRules[0].jwks", "'keys' list")]
    [InlineData("jwtRules: [{issuer: i, jwks: '{'}]", "requestAuthentications[0].spec.jwtRules[0].jwks", "not valid JSON")]
    [InlineData("jwtRules: [{issuer: i, jwks: '{\"keys\": []}', fromHeaders: [{prefix: x}]}]", "requestAuthentications[0].spec.jwtRules[0].fromHeaders[0].name", "missing required field")]
    [InlineData("jwtRules: [{issuer: i, jwks: '{\"keys\": []}', forwardOriginalToken: maybe}]", "requestAuthentications[0].spec.jwtRules[0].forwardOriginalToken", "not a boolean")]
    [InlineData("jwtRules: [{issuer: i, jwks: '{\"keys\": []}', outputClaimToHeaders: [{header: 'a b', claim: sub}]}]", "requestAuthentications[0].spec.jwtRules[0].outputClaimToHeaders[0].header", "HTTP header name")]
    [InlineData("jwtRules: [{issuer: i, jwks: '{\"keys\": []}', issuers: [x]}]", "requestAuthentications[0].spec.jwtRules[0].issuers", "did you mean 'issuer'")]
    [InlineData("selector: {matchLabels: {app: x}}, targetRefs: [{kind: Service, name: s}]", "requestAuthentications[0].spec.selector", "only one of")]
    [InlineData("targetRefs: [{kind: Pod, name: s}]", "requestAuthentications[0].spec.targetRefs[0].kind", "unsupported targetRef")]
    [InlineData("targetRefs: [{kind: Service, name: s, namespace: other}]", "requestAuthentications[0].spec.targetRefs[0].namespace", "must match the policy namespace")]
    public void InvalidRequestAuthentication_IsRejected(string spec, string path, string fragment) =>
        Rejected(Authn($"{{metadata: {{name: a, namespace: b}}, spec: {{{spec}}}}}"), path, fragment);
}

using Ambient.Config.Routes;
using static Ambient.Tests.Waypoint.RouteTestSupport;

namespace Ambient.Tests.Waypoint;

/// <summary>GRPCRoute and the ambient.dev/* route annotations (fault injection, local rate limit).</summary>
public class GrpcRouteParserTests
{
    [Fact]
    public void GrpcRoute_ParsesMatchesFiltersAndWeights()
    {
        var route = Ok(GrpcYaml("""
            apiVersion: gateway.networking.k8s.io/v1
            kind: GRPCRoute
            metadata: { name: greeter, namespace: default }
            spec:
              parentRefs: [{ group: "", kind: Service, name: greeter, port: 50051 }]
              rules:
              - matches:
                - method: { service: helloworld.Greeter, method: SayHello }
                  headers: [{ name: x-user, value: admin }]
                - method: { type: RegularExpression, service: "helloworld\\..*" }
                filters:
                - type: RequestHeaderModifier
                  requestHeaderModifier: { add: [{ name: x-grpc, value: "1" }] }
                - type: RequestMirror
                  requestMirror: { backendRef: { name: greeter-shadow, port: 50051 } }
                backendRefs:
                - { name: greeter-v1, port: 50051, weight: 3 }
                - { name: greeter-v2, port: 50051, weight: 1 }
              - backendRefs: [{ name: greeter-v1, port: 50051 }]
            """));
        var rule = route.Rules[0];
        Assert.Equal(new GrpcMethodMatch(StringMatchType.Exact, "helloworld.Greeter", "SayHello"), rule.Matches[0].Method);
        Assert.Equal("x-user", rule.Matches[0].Headers[0].Name);
        Assert.Equal(new GrpcMethodMatch(StringMatchType.RegularExpression, "helloworld\\..*", null), rule.Matches[1].Method);
        Assert.Equal(new[] { RouteFilterType.RequestHeaderModifier, RouteFilterType.RequestMirror }, (rule.Filters.Select(f => f.Type)).AsEnumerable());
        Assert.Equal(new[] { 3, 1 }, (rule.BackendRefs.Select(b => b.Weight)).AsEnumerable());
        Assert.Empty(route.Rules[1].Matches);
    }

    [Theory]
    [InlineData("rules: [{matches: [{method: {}}]}]", "grpcRoutes[0].spec.rules[0].matches[0].method", "needs 'service' and/or 'method'")]
    [InlineData("rules: [{matches: [{method: {service: 'hello world'}}]}]", "grpcRoutes[0].spec.rules[0].matches[0].method.service", "fully qualified service name")]
    [InlineData("rules: [{matches: [{method: {method: Say.Hello}}]}]", "grpcRoutes[0].spec.rules[0].matches[0].method.method", "a method name")]
    [InlineData("rules: [{matches: [{method: {type: RegularExpression, method: '(x'}}]}]", "grpcRoutes[0].spec.rules[0].matches[0].method.method", "not a supported regular expression")]
    [InlineData("rules: [{matches: [{method: {type: Prefix, method: x}}]}]", "grpcRoutes[0].spec.rules[0].matches[0].method.type", "not a valid method match type")]
    [InlineData("rules: [{matches: [{path: {value: /}}]}]", "grpcRoutes[0].spec.rules[0].matches[0].path", "unknown field")]
    [InlineData("rules: [{filters: [{type: URLRewrite, urlRewrite: {hostname: a.b}}]}]", "grpcRoutes[0].spec.rules[0].filters[0].type", "not supported in a GRPCRoute")]
    [InlineData("rules: [{backendRefs: [{name: a, port: 1, weight: x}]}]", "grpcRoutes[0].spec.rules[0].backendRefs[0].weight", "must be 0..1000000")]
    [InlineData("rules: [{timeouts: {request: 1s}}]", "grpcRoutes[0].spec.rules[0].timeouts", "unknown field")]
    public void InvalidGrpcRoute_IsRejected(string spec, string path, string fragment) => Rejected(GrpcYaml(Object(spec)), path, fragment);

    [Fact]
    public void GrpcRoute_AcceptsV1alpha2()
    {
        Ok(GrpcYaml("{apiVersion: gateway.networking.k8s.io/v1alpha2, kind: GRPCRoute, metadata: {name: a, namespace: b}, spec: {}}"));
    }
}

public class RouteExtensionParserTests
{
    private static string WithAnnotations(string annotations) =>
        Object("rules: [{backendRefs: [{name: a, port: 80}]}]", $", annotations: {{{annotations}}}");

    [Fact]
    public void Fault_IstioShape()
    {
        var route = Ok(Http(WithAnnotations("""ambient.dev/fault: '{delay: {fixedDelay: 1.5s, percentage: {value: 10}}, abort: {httpStatus: 503, percentage: {value: 0.5}}}'""")));
        Assert.Equal(new FaultDelay(TimeSpan.FromMilliseconds(1500), 10), route.Fault!.Delay);
        Assert.Equal(new FaultAbort(503, null, 0.5), route.Fault!.Abort);
    }

    [Fact]
    public void Fault_GrpcStatusByNameOrCode_PercentageDefaultsTo100()
    {
        var byName = Ok(Http(WithAnnotations("""ambient.dev/fault: '{"abort": {"grpcStatus": "UNAVAILABLE"}}'""")));
        Assert.Equal(new FaultAbort(null, 14, 100), byName.Fault!.Abort);
        var byCode = Ok(Http(WithAnnotations("""ambient.dev/fault: '{abort: {grpcStatus: "4"}}'""")));
        Assert.Equal(4, byCode.Fault!.Abort!.GrpcStatus);
    }

    [Fact]
    public void RateLimit_TokenBucket()
    {
        var route = Ok(Http(WithAnnotations("""ambient.dev/local-rate-limit: '{tokenBucket: {maxTokens: 100, tokensPerFill: 10, fillInterval: 1s}}'""")));
        Assert.Equal(new LocalRateLimit { MaxTokens = 100, TokensPerFill = 10, FillInterval = TimeSpan.FromSeconds(1), StatusCode = 429 }, route.RateLimit);
    }

    [Fact]
    public void OtherAnnotations_AreIgnored()
    {
        var route = Ok(Http(WithAnnotations("""example.com/owner: team-a, ambient.dev/local-rate-limit: '{tokenBucket: {maxTokens: 1, fillInterval: 1m}, statusCode: 503}'""")));
        Assert.Equal((1, 1, 503), (route.RateLimit!.MaxTokens, route.RateLimit.TokensPerFill, route.RateLimit.StatusCode));
        Assert.Null(route.Fault);
    }

    [Theory]
    [InlineData("ambient.dev/faults: '{}'", "httpRoutes[2].metadata.annotations[\"ambient.dev/faults\"]", "did you mean 'ambient.dev/fault'")]
    [InlineData("ambient.dev/fault: '{delay: {percentage: {value: 5}}}'", "httpRoutes[2].metadata.annotations[\"ambient.dev/fault\"].delay.fixedDelay", "missing required field")]
    [InlineData("ambient.dev/fault: '{delay: {fixedDelay: soon}}'", "httpRoutes[2].metadata.annotations[\"ambient.dev/fault\"].delay.fixedDelay", "not a valid duration")]
    [InlineData("ambient.dev/fault: '{delay: {fixedDelay: 1s, percentage: {value: 101}}}'", "httpRoutes[2].metadata.annotations[\"ambient.dev/fault\"].delay.percentage.value", "expected a number 0-100")]
    [InlineData("ambient.dev/fault: '{delay: {fixedDelay: 1s, percent: 5}}'", "httpRoutes[2].metadata.annotations[\"ambient.dev/fault\"].delay.percent", "unknown field")]
    [InlineData("ambient.dev/fault: '{abort: {httpStatus: 700}}'", "httpRoutes[2].metadata.annotations[\"ambient.dev/fault\"].abort.httpStatus", "out of range")]
    [InlineData("ambient.dev/fault: '{abort: {httpStatus: 503, grpcStatus: UNAVAILABLE}}'", "httpRoutes[2].metadata.annotations[\"ambient.dev/fault\"].abort", "exactly one of")]
    [InlineData("ambient.dev/fault: '{abort: {grpcStatus: NOPE}}'", "httpRoutes[2].metadata.annotations[\"ambient.dev/fault\"].abort.grpcStatus", "not a gRPC status")]
    [InlineData("ambient.dev/fault: '{}'", "httpRoutes[2].metadata.annotations[\"ambient.dev/fault\"]", "needs 'delay' and/or 'abort'")]
    [InlineData("ambient.dev/fault: '{delay: [}'", "httpRoutes[2].metadata.annotations[\"ambient.dev/fault\"]", "not valid YAML or JSON")]
    [InlineData("ambient.dev/fault: ''", "httpRoutes[2].metadata.annotations[\"ambient.dev/fault\"]", "expected a YAML or JSON mapping")]
    [InlineData("ambient.dev/local-rate-limit: '{statusCode: 429}'", "httpRoutes[2].metadata.annotations[\"ambient.dev/local-rate-limit\"].tokenBucket", "missing required field")]
    [InlineData("ambient.dev/local-rate-limit: '{tokenBucket: {maxTokens: 0, fillInterval: 1s}}'", "httpRoutes[2].metadata.annotations[\"ambient.dev/local-rate-limit\"].tokenBucket.maxTokens", "out of range")]
    [InlineData("ambient.dev/local-rate-limit: '{tokenBucket: {maxTokens: 5}}'", "httpRoutes[2].metadata.annotations[\"ambient.dev/local-rate-limit\"].tokenBucket.fillInterval", "missing required field")]
    [InlineData("ambient.dev/local-rate-limit: '{tokenBucket: {maxTokens: 5, fillInterval: 10ms}}'", "httpRoutes[2].metadata.annotations[\"ambient.dev/local-rate-limit\"].tokenBucket.fillInterval", "at least 50ms")]
    [InlineData("ambient.dev/local-rate-limit: '{tokenBucket: {maxTokens: 5, fillInterval: 1s}, statusCode: 200}'", "httpRoutes[2].metadata.annotations[\"ambient.dev/local-rate-limit\"].statusCode", "out of range")]
    public void InvalidAnnotation_IsRejected(string annotations, string path, string fragment) =>
        Rejected(Http(WithAnnotations(annotations)), path, fragment);

    [Fact]
    public void GrpcRoute_SupportsTheSameAnnotations()
    {
        var route = Ok(GrpcYaml(Object("rules: []", ", annotations: {ambient.dev/fault: '{abort: {grpcStatus: UNAVAILABLE, percentage: {value: 50}}}'}")));
        Assert.Equal(new FaultAbort(null, 14, 50), route.Fault!.Abort);
    }
}

using Ambient.Config.Routes;
using Ambient.Waypoint.Resilience;
using Ambient.Waypoint.Routing;
using Microsoft.AspNetCore.Http;
using static Ambient.Tests.Waypoint.RouteTestSupport;

namespace Ambient.Tests.Waypoint;

public class RoutePlannerTests
{
    private static readonly ServiceRouteKey Reviews = new("default", "reviews");

    private static RoutePlan Plan(string rule, string path = "/api/items", string query = "")
    {
        var table = HttpRouteTable.Build([Ok(Http(Object($"parentRefs: [{{group: '', kind: Service, name: reviews}}], rules: [{rule}]")))]);
        var request = new HttpRequestHead("GET", "http", "reviews:9080", path, query, new HeaderDictionary());
        var selection = table.Match(Reviews, 9080, request)!;
        return HttpRoutePlanner.Plan(selection, request, 9080, new Random(1));
    }

    [Fact]
    public void Forward_RewritesAndCollectsModifiersInOrder()
    {
        var plan = Plan("""
            {matches: [{path: {value: /api}}],
             filters: [{type: URLRewrite, urlRewrite: {hostname: reviews.internal, path: {type: ReplacePrefixMatch, replacePrefixMatch: /v2}}},
                       {type: RequestHeaderModifier, requestHeaderModifier: {set: [{name: x-a, value: rule}]}},
                       {type: ResponseHeaderModifier, responseHeaderModifier: {add: [{name: x-r, value: '1'}]}},
                       {type: RequestMirror, requestMirror: {backendRef: {name: shadow, port: 80}}}],
             backendRefs: [{name: reviews-v1, port: 9080, filters: [{type: RequestHeaderModifier, requestHeaderModifier: {set: [{name: x-a, value: backend}]}}]}],
             timeouts: {request: 3s}, retry: {codes: [502], attempts: 1}}
            """);
        Assert.Equal(RoutePlanKind.Forward, plan.Kind);
        var forward = plan.Forward!;
        Assert.Equal(("reviews-v1", "reviews.internal", "/v2/items"), (forward.Backend.Backend.Name, forward.Authority, forward.Path));
        Assert.Equal("shadow", Assert.Single(forward.Mirrors).Name);
        Assert.Equal(TimeSpan.FromSeconds(3), forward.Timeouts.Request);
        Assert.True(forward.Retry.ShouldRetry(1, 502));
        Assert.False(forward.Retry.ShouldRetry(2, 502));

        var headers = new HeaderDictionary();
        HttpRoutePlanner.ApplyRequestHeaders(forward, headers);
        Assert.Equal("backend", headers["x-a"]); // backend filters run after the rule's
        var response = new HeaderDictionary();
        HttpRoutePlanner.ApplyResponseHeaders(forward, response);
        Assert.Equal("1", response["x-r"]);
    }

    [Fact]
    public void Redirect_AnswersWithoutBackend()
    {
        var plan = Plan("{matches: [{path: {value: /api}}], filters: [{type: RequestRedirect, requestRedirect: {scheme: https, path: {type: ReplacePrefixMatch, replacePrefixMatch: /v1}}}]}", query: "q=1");
        Assert.Equal(RoutePlanKind.Redirect, plan.Kind);
        Assert.Equal(new RedirectResponse(302, "https://reviews/v1/items?q=1"), plan.Redirect);
    }

    [Fact]
    public void NoBackends_Or_AllWeightZero_IsNoBackend()
    {
        Assert.Equal(RoutePlanKind.NoBackend, Plan("{}").Kind);
        Assert.Equal(RoutePlanKind.NoBackend, Plan("{backendRefs: [{name: a, port: 80, weight: 0}]}").Kind);
    }

    [Fact]
    public void NoRetryOrTimeouts_UseDefaults()
    {
        var forward = Plan("{backendRefs: [{name: a, port: 80}]}").Forward!;
        Assert.Equal(RetryPolicy.Default.Retries, forward.Retry.Retries);
        Assert.Equal(default, forward.Timeouts);
    }

    [Fact]
    public void EmptyGroupKey_MeansCoreGroup()
    {
        var route = Ok(Http("""
            metadata: { name: r, namespace: default }
            spec:
              parentRefs:
              - group:
                kind: Service
                name: reviews
            """));
        Assert.True(route.ParentRefs[0].IsService);
    }
}

public class ResilienceTokenBucketRegistryTests
{
    private static readonly LocalRateLimit Limit = new() { MaxTokens = 1, TokensPerFill = 1, FillInterval = TimeSpan.FromHours(1) };

    [Fact]
    public void SameLimit_SameBucket_ChangedLimit_NewBucket()
    {
        var registry = new TokenBucketRegistry(new ManualClock());
        Assert.Null(registry.For("default/r", null));
        var bucket = registry.For("default/r", Limit)!;
        Assert.True(bucket.TryTake());
        Assert.Same(bucket, registry.For("default/r", Limit with { }));
        Assert.False(registry.For("default/r", Limit)!.TryTake()); // a reload does not refill
        var changed = registry.For("default/r", Limit with { MaxTokens = 2 })!;
        Assert.NotSame(bucket, changed);
        Assert.Equal(2, changed.Available);
        registry.Retain(new HashSet<string>());
        Assert.NotSame(changed, registry.For("default/r", Limit with { MaxTokens = 2 }));
    }
}

using System.Collections.Immutable;
using Ambient.Config.Routes;
using Ambient.Waypoint.Routing;
using Microsoft.AspNetCore.Http;

namespace Ambient.Tests.Waypoint;

public class RouteFilterTests
{
    private static HttpRequestHead Request(string scheme, string authority, string path, string query = "") =>
        new("GET", scheme, authority, path, query, new HeaderDictionary());

    // Gateway API's ReplacePrefixMatch table.
    [Theory]
    [InlineData("/foo", "/foo/bar", "/xyz", "/xyz/bar")]
    [InlineData("/foo", "/foo/bar", "/xyz/", "/xyz/bar")]
    [InlineData("/foo/", "/foo/bar", "/xyz", "/xyz/bar")]
    [InlineData("/foo/", "/foo/bar", "/xyz/", "/xyz/bar")]
    [InlineData("/foo", "/foo", "/xyz", "/xyz")]
    [InlineData("/foo", "/foo/", "/xyz", "/xyz/")]
    [InlineData("/foo/", "/foo/", "/xyz", "/xyz/")]
    [InlineData("/foo", "/foo", "/", "/")]
    [InlineData("/foo", "/foo/", "/", "/")]
    [InlineData("/foo", "/foo/bar", "/", "/bar")]
    [InlineData("/foo/", "/foo/bar", "/", "/bar")]
    [InlineData("/", "/foo", "/xyz", "/xyz/foo")]
    [InlineData("/", "/foo", "/", "/foo")]
    [InlineData("/", "/", "/xyz", "/xyz/")]
    public void ReplacePrefixMatch(string prefix, string path, string replacement, string expected) =>
        Assert.Equal(expected, PathRewriter.Rewrite(new PathModifier(PathModifierType.ReplacePrefixMatch, replacement), path, prefix));

    [Fact]
    public void ReplaceFullPath() =>
        Assert.Equal("/new", PathRewriter.Rewrite(new PathModifier(PathModifierType.ReplaceFullPath, "/new"), "/old/deep", "/old"));

    [Theory]
    [InlineData(null, null, null, null, 302, "http://reviews:9080/a/b?x=1")]
    [InlineData("https", null, null, null, 302, "https://reviews/a/b?x=1")]
    [InlineData("https", null, 8443, null, 302, "https://reviews:8443/a/b?x=1")]
    [InlineData("http", "example.com", null, null, 301, "http://example.com/a/b?x=1")]
    [InlineData(null, "example.com", 80, null, 302, "http://example.com/a/b?x=1")]
    [InlineData(null, null, null, "/z", 308, "http://reviews:9080/z/b?x=1")]
    public void Redirect_Location(string? scheme, string? host, int? port, string? prefixReplacement, int status, string location)
    {
        var redirect = new RequestRedirect
        {
            Scheme = scheme, Hostname = host, Port = port, StatusCode = status,
            Path = prefixReplacement is null ? null : new PathModifier(PathModifierType.ReplacePrefixMatch, prefixReplacement),
        };
        var response = RedirectBuilder.Build(redirect, Request("http", "reviews:9080", "/a/b", "x=1"), listenerPort: 9080, matchedPrefix: "/a");
        Assert.Equal(new RedirectResponse(status, location), response);
    }

    [Fact]
    public void Redirect_ListenerPortIsDefaultForTheScheme_IsLeftOut()
    {
        var response = RedirectBuilder.Build(new RequestRedirect { Hostname = "x.example" }, Request("http", "reviews", "/", ""), listenerPort: 80, matchedPrefix: null);
        Assert.Equal("http://x.example/", response.Location);
    }

    [Fact]
    public void UrlRewrite_HostnameReplacesAuthority_PathByPrefix()
    {
        var rewrite = new UrlRewrite { Hostname = "internal.svc", Path = new PathModifier(PathModifierType.ReplacePrefixMatch, "/v2") };
        Assert.Equal(new RewrittenTarget("internal.svc", "/v2/items"), UrlRewriteApplier.Apply(rewrite, Request("http", "reviews:9080", "/api/items"), "/api"));
        Assert.Equal(new RewrittenTarget("reviews:9080", "/api/items"), UrlRewriteApplier.Apply(new UrlRewrite(), Request("http", "reviews:9080", "/api/items"), "/api"));
    }

    [Fact]
    public void HeaderModifier_SetAddRemove()
    {
        var headers = new HeaderDictionary { ["X-Set"] = "old", ["x-add"] = "first", ["x-remove"] = "gone", ["keep"] = "k" };
        HeaderModifierApplier.Apply(new HeaderModifier
        {
            Set = [new("x-set", "new"), new("x-fresh", "f")],
            Add = [new("X-Add", "second"), new("x-new-add", "n")],
            Remove = ["X-REMOVE", "absent"],
        }, headers);
        Assert.Equal("new", headers["x-set"]);
        Assert.Equal("f", headers["x-fresh"]);
        Assert.Equal(new[] { "first", "second" }, (IEnumerable<string?>)headers["x-add"]);
        Assert.Equal("n", headers["x-new-add"]);
        Assert.False(headers.ContainsKey("x-remove"));
        Assert.Equal("k", headers["keep"]);
    }

    [Fact]
    public void HeaderModifier_RemoveWinsOverSetOfTheSameName()
    {
        var headers = new HeaderDictionary();
        HeaderModifierApplier.Apply(new HeaderModifier { Set = [new("a", "1")], Remove = ["a"] }, headers);
        Assert.False(headers.ContainsKey("a"));
    }

    [Fact]
    public void Mirror_ByFraction()
    {
        var shadow = new BackendReference { Name = "shadow", Namespace = "default", Port = 80 };
        ImmutableArray<RouteFilter> filters =
        [
            new RouteFilter { Type = RouteFilterType.RequestMirror, Mirror = new RequestMirror { Backend = shadow, Fraction = 0.25 } },
            new RouteFilter { Type = RouteFilterType.RequestMirror, Mirror = new RequestMirror { Backend = shadow with { Name = "always" } } },
            new RouteFilter { Type = RouteFilterType.RequestMirror, Mirror = new RequestMirror { Backend = shadow with { Name = "never" }, Fraction = 0 } },
        ];
        var random = new Random(1);
        var counts = new Dictionary<string, int>();
        for (var i = 0; i < 10_000; i++)
        {
            foreach (var target in MirrorDecision.Targets(filters, random)) counts[target.Name] = counts.GetValueOrDefault(target.Name) + 1;
        }
        Assert.Equal(10_000, counts["always"]);
        Assert.False(counts.ContainsKey("never"));
        Assert.InRange(counts["shadow"], 2_300, 2_700);
    }
}

public class RouteBackendPickerTests
{
    private static RouteBackendRef Backend(string name, int weight) =>
        new() { Backend = new BackendReference { Name = name, Namespace = "default", Port = 80 }, Weight = weight };

    [Fact]
    public void NinetyTen_ConvergesWithinTwoPercent()
    {
        var picker = new WeightedBackendPicker([Backend("v1", 90), Backend("v2", 10)]);
        var random = new Random(42);
        var v1 = 0;
        for (var i = 0; i < 10_000; i++) v1 += picker.Pick(random)!.Backend.Name == "v1" ? 1 : 0;
        Assert.InRange(v1 / 10_000.0, 0.88, 0.92);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void ThreeWay_Converges_ForSeveralSeeds(int seed)
    {
        var picker = new WeightedBackendPicker([Backend("a", 1), Backend("b", 2), Backend("c", 7)]);
        var random = new Random(seed);
        var counts = new Dictionary<string, int>();
        for (var i = 0; i < 20_000; i++)
        {
            var name = picker.Pick(random)!.Backend.Name;
            counts[name] = counts.GetValueOrDefault(name) + 1;
        }
        Assert.InRange(counts["a"] / 20_000.0, 0.08, 0.12);
        Assert.InRange(counts["b"] / 20_000.0, 0.18, 0.22);
        Assert.InRange(counts["c"] / 20_000.0, 0.68, 0.72);
    }

    [Fact]
    public void WeightZero_IsNeverPicked()
    {
        var picker = new WeightedBackendPicker([Backend("off", 0), Backend("on", 1), Backend("off2", 0)]);
        var random = new Random(3);
        for (var i = 0; i < 1000; i++) Assert.Equal("on", picker.Pick(random)!.Backend.Name);
    }

    [Fact]
    public void AllZero_OrEmpty_HasNoBackends()
    {
        Assert.False(new WeightedBackendPicker([Backend("a", 0)]).HasBackends);
        Assert.Null(new WeightedBackendPicker([Backend("a", 0)]).Pick(new Random(1)));
        Assert.False(new WeightedBackendPicker([]).HasBackends);
    }

    [Fact]
    public void SameSeed_SameSequence()
    {
        var picker = new WeightedBackendPicker([Backend("a", 1), Backend("b", 1), Backend("c", 1)]);
        var r1 = new Random(9);
        var r2 = new Random(9);
        for (var i = 0; i < 50; i++) Assert.Equal(picker.Pick(r1)!.Backend.Name, picker.Pick(r2)!.Backend.Name);
    }
}

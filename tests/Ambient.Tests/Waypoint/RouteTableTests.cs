using Ambient.Config.Routes;
using Ambient.Waypoint.Routing;
using Microsoft.AspNetCore.Http;
using static Ambient.Tests.Waypoint.RouteTestSupport;

namespace Ambient.Tests.Waypoint;

public class RouteTableTests
{
    private static readonly ServiceRouteKey Reviews = new("default", "reviews");

    internal static HttpRequestHead Request(string method, string pathAndQuery, params (string Name, string Value)[] headers)
    {
        var q = pathAndQuery.IndexOf('?');
        var dictionary = new HeaderDictionary();
        foreach (var (name, value) in headers) dictionary.Append(name, value);
        return new HttpRequestHead(method, "http", "reviews:9080", q < 0 ? pathAndQuery : pathAndQuery[..q], q < 0 ? "" : pathAndQuery[(q + 1)..], dictionary);
    }

    /// <summary>One route for service reviews whose rules are named r0, r1, ... in order.</summary>
    private static HttpRouteTable Table(params string[] rules) => Table([(rules, "reviews", "")]);

    private static HttpRouteTable Table(IEnumerable<(string[] Rules, string Name, string ParentExtra)> routes) =>
        HttpRouteTable.Build(routes.Select(r => Ok(Http(
            $"{{metadata: {{name: {r.Name}, namespace: default}}, spec: {{parentRefs: [{{group: '', kind: Service, name: reviews{r.ParentExtra}}}], rules: [{string.Join(", ", r.Rules.Select((rule, i) => $"{{name: r{i}, {rule}}}"))}]}}}}"))).ToList());

    private static string? Pick(HttpRouteTable table, HttpRequestHead request, int port = 9080) =>
        table.Match(Reviews, port, request)?.Rule.Name;

    public static TheoryData<string[], string, string, string?> PathCases => new()
    {
        // rules, method, path, winner
        { ["matches: [{path: {type: PathPrefix, value: /}}]", "matches: [{path: {type: Exact, value: /a}}]"], "GET", "/a", "r1" },
        { ["matches: [{path: {type: PathPrefix, value: /a}}]", "matches: [{path: {type: PathPrefix, value: /a/b}}]"], "GET", "/a/b/c", "r1" },
        { ["matches: [{path: {type: PathPrefix, value: /a}}]", "matches: [{path: {type: PathPrefix, value: /a/b}}]"], "GET", "/a/bc", "r0" },
        { ["matches: [{path: {type: PathPrefix, value: /abc}}]"], "GET", "/abcd", null },
        { ["matches: [{path: {type: PathPrefix, value: /abc}}]"], "GET", "/abc", "r0" },
        { ["matches: [{path: {type: PathPrefix, value: /abc/}}]"], "GET", "/abc", "r0" },
        { ["matches: [{path: {type: PathPrefix, value: /abc/}}]"], "GET", "/abc/def", "r0" },
        { ["matches: [{path: {type: Exact, value: /abc}}]"], "GET", "/abc/", null },
        { ["matches: [{path: {type: Exact, value: /Abc}}]"], "GET", "/abc", null },
        { ["matches: [{path: {type: RegularExpression, value: '/items/[0-9]+'}}]", "matches: [{path: {type: PathPrefix, value: /}}]"], "GET", "/items/42", "r1" },
        { ["matches: [{path: {type: RegularExpression, value: '/items/[0-9]+'}}]"], "GET", "/items/42", "r0" },
        { ["matches: [{path: {type: RegularExpression, value: '/items/[0-9]+'}}]"], "GET", "/items/42/x", null },
        { ["matches: [{path: {value: /}}]", "matches: [{path: {value: /}, method: POST}]"], "POST", "/x", "r1" },
        { ["matches: [{path: {value: /}}]", "matches: [{path: {value: /}, method: POST}]"], "GET", "/x", "r0" },
        { ["matches: [{path: {value: /}, method: GET}]", "matches: [{path: {value: /a}}]"], "GET", "/a", "r1" },
        { ["matches: [{path: {value: /}, method: GET}]", "matches: [{path: {value: /}, headers: [{name: x-a, value: '1'}]}]"], "GET", "/", "r0" },
        { ["matches: [{path: {value: /}, queryParams: [{name: q, value: '1'}]}]", "matches: [{path: {value: /}, headers: [{name: x-a, value: '1'}]}]"], "GET", "/?q=1", "r1" },
        { ["backendRefs: []", "backendRefs: []"], "GET", "/anything", "r0" },
    };

    [Theory]
    [MemberData(nameof(PathCases))]
    public void Precedence_PathThenMethodThenHeaders(string[] rules, string method, string path, string? winner)
    {
        Assert.Equal(winner, Pick(Table(rules), Request(method, path, ("x-a", "1"))));
    }

    [Fact]
    public void MoreHeaderMatches_Win_ThenMoreQueryMatches()
    {
        var table = Table(
            "matches: [{headers: [{name: a, value: '1'}]}]",
            "matches: [{headers: [{name: a, value: '1'}, {name: b, value: '2'}]}]",
            "matches: [{headers: [{name: a, value: '1'}, {name: b, value: '2'}], queryParams: [{name: q, value: x}]}]");
        Assert.Equal("r2", Pick(table, Request("GET", "/?q=x", ("a", "1"), ("b", "2"))));
        Assert.Equal("r1", Pick(table, Request("GET", "/", ("a", "1"), ("b", "2"))));
        Assert.Equal("r0", Pick(table, Request("GET", "/", ("a", "1"))));
        Assert.Null(Pick(table, Request("GET", "/")));
    }

    [Theory]
    [InlineData("x-Version", "v12", true)]
    [InlineData("X-VERSION", "v1", true)]
    [InlineData("x-version", "v", false)]
    [InlineData("x-version", "xv1", false)]
    [InlineData("x-other", "v1", false)]
    public void HeaderMatch_NameCaseInsensitive_RegexFullMatch(string name, string value, bool matches)
    {
        var table = Table("matches: [{headers: [{type: RegularExpression, name: x-version, value: 'v[0-9]+'}]}]");
        Assert.Equal(matches, Pick(table, Request("GET", "/", (name, value))) is not null);
    }

    [Fact]
    public void HeaderMatch_ExactIsCaseSensitive_AndRepeatedHeadersJoin()
    {
        var table = Table("matches: [{headers: [{name: x-a, value: 'b,c'}]}]");
        Assert.NotNull(Pick(table, Request("GET", "/", ("x-a", "b"), ("x-a", "c"))));
        Assert.Null(Pick(table, Request("GET", "/", ("x-a", "B,c"))));
    }

    [Theory]
    [InlineData("q=1", true)]
    [InlineData("a=2&q=1", true)]
    [InlineData("q=1&q=2", true)]
    [InlineData("q=2&q=1", false)] // only the first occurrence counts
    [InlineData("Q=1", false)]
    [InlineData("q=%31", true)]
    [InlineData("q", false)]
    [InlineData("", false)]
    public void QueryMatch_FirstValueExactName(string query, bool matches)
    {
        var table = Table("matches: [{queryParams: [{name: q, value: '1'}]}]");
        Assert.Equal(matches, Pick(table, Request("GET", "/?" + query)) is not null);
    }

    [Fact]
    public void Ties_GoToTheEarlierRoute_ThenRuleOrder()
    {
        var table = Table([(["matches: [{path: {value: /a}}]"], "zeta", ""), (["matches: [{path: {value: /a}}]"], "alpha", "")]);
        Assert.Equal("default/zeta", table.Match(Reviews, 9080, Request("GET", "/a"))!.Route.Key);
        var rules = Table("matches: [{path: {value: /a}}]", "matches: [{path: {value: /a}}]");
        Assert.Equal("r0", Pick(rules, Request("GET", "/a")));
    }

    [Fact]
    public void PortScopedParent_AppliesOnlyToThatPort()
    {
        var table = Table([(["matches: [{path: {value: /}}]"], "any-port", ""), (["matches: [{path: {value: /only}}]"], "port-80", ", port: 80")]);
        Assert.Equal("default/port-80", table.Match(Reviews, 80, Request("GET", "/only"))!.Route.Key);
        Assert.Equal("default/any-port", table.Match(Reviews, 9080, Request("GET", "/only"))!.Route.Key);

        // A service whose only route is bound to port 80 has no routes on its other ports (no 404 there).
        var only80 = Table([(["matches: [{path: {value: /}}]"], "port-80", ", port: 80")]);
        Assert.True(only80.HasRoutes(Reviews, 80));
        Assert.False(only80.HasRoutes(Reviews, 9080));
        Assert.True(table.HasRoutes(Reviews, 9080));
    }

    [Fact]
    public void ServiceWithoutRoutes_HasNoMatch_GatewayParentsIgnored()
    {
        var gatewayOnly = HttpRouteTable.Build([Ok(Http(Object("parentRefs: [{name: waypoint}], rules: [{}]")))]);
        Assert.False(gatewayOnly.HasRoutes(Reviews, 80));
        Assert.Null(gatewayOnly.Match(Reviews, 80, Request("GET", "/")));
        Assert.True(Table("backendRefs: []").HasRoutes(Reviews, 80));
        Assert.False(HttpRouteTable.Empty.HasRoutes(Reviews, 80));
    }

    [Fact]
    public void Selection_DescribesRouteAndRule()
    {
        var selection = Table("matches: [{path: {value: /}}]").Match(Reviews, 9080, Request("GET", "/"))!;
        Assert.Equal("default/reviews#r0", selection.Describe());
    }
}

using Ambient.Waypoint.Routing;
using Microsoft.AspNetCore.Http;
using static Ambient.Tests.Waypoint.RouteTestSupport;

namespace Ambient.Tests.Waypoint;

public class GrpcRouteTableTests
{
    private static readonly ServiceRouteKey Greeter = new("default", "reviews");

    private static GrpcRouteTable Table(params string[] rules) => GrpcRouteTable.Build([Ok(GrpcYaml(Object(
        $"parentRefs: [{{group: '', kind: Service, name: reviews}}], rules: [{string.Join(", ", rules.Select((r, i) => $"{{name: r{i}, {r}}}"))}]")))]);

    private static string? Pick(GrpcRouteTable table, string path, params (string, string)[] headers)
    {
        var dictionary = new HeaderDictionary();
        foreach (var (name, value) in headers) dictionary.Append(name, value);
        return table.Match(Greeter, 50051, new HttpRequestHead("POST", "http", "reviews:50051", path, "", dictionary))?.Rule.Name;
    }

    [Theory]
    [InlineData("/helloworld.Greeter/SayHello", "r1")]
    [InlineData("/helloworld.Greeter/SayBye", "r0")]
    [InlineData("/other.Svc/SayHello", "r2")]
    [InlineData("/x.Y/Z", "r3")]
    [InlineData("/not-grpc", "r3")]
    public void LongestServiceThenMethodWins(string path, string winner)
    {
        var table = Table(
            "matches: [{method: {service: helloworld.Greeter}}]",
            "matches: [{method: {service: helloworld.Greeter, method: SayHello}}]",
            "matches: [{method: {method: SayHello}}]",
            "backendRefs: []");
        Assert.Equal(winner, Pick(table, path));
    }

    [Theory]
    [InlineData("/helloworld.Greeter/SayHello", true)]
    [InlineData("/helloworld.v2.Greeter/SayHello", true)]
    [InlineData("/hello.Greeter/SayHello", false)]
    [InlineData("/helloworld.Greeter/SayHelloAgain", false)]
    [InlineData("/helloworld.Greeter", false)]
    [InlineData("/helloworld.Greeter/SayHello/extra", false)]
    public void RegexMethodMatch_FullMatch(string path, bool matches)
    {
        var table = Table("matches: [{method: {type: RegularExpression, service: 'helloworld\\..*', method: 'Say(Hello|Bye)'}}]");
        Assert.Equal(matches, Pick(table, path) is not null);
    }

    [Fact]
    public void HeaderMatches_CountForPrecedence()
    {
        var table = Table(
            "matches: [{method: {service: a.B}}]",
            "matches: [{method: {service: a.B}, headers: [{name: x-user, value: admin}]}]");
        Assert.Equal("r1", Pick(table, "/a.B/M", ("x-user", "admin")));
        Assert.Equal("r0", Pick(table, "/a.B/M"));
    }

    [Theory]
    [InlineData("/pkg.Svc/Method", "pkg.Svc", "Method")]
    [InlineData("/Svc/M", "Svc", "M")]
    public void MethodName_Parses(string path, string service, string method)
    {
        Assert.True(GrpcMethodName.TryParse(path, out var s, out var m));
        Assert.Equal((service, method), (s.ToString(), m.ToString()));
    }

    [Theory]
    [InlineData("")]
    [InlineData("/")]
    [InlineData("//M")]
    [InlineData("/Svc/")]
    [InlineData("Svc/M")]
    [InlineData("/a/b/c")]
    public void MethodName_RejectsNonGrpcPaths(string path) => Assert.False(GrpcMethodName.TryParse(path, out _, out _));
}

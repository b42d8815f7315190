using Ambient.Config.Routes;
using Ambient.Waypoint.Routing;

namespace Ambient.Tests.Waypoint;

/// <summary>Duration strings, authorities, query values and path prefixes.</summary>
public class RouteValueTests
{
    [Theory]
    [InlineData("500ms", 500)]
    [InlineData("10s", 10_000)]
    [InlineData("1h2m", 3_720_000)]
    [InlineData("1h1m1s1ms", 3_661_001)]
    [InlineData("0s", 0)]
    [InlineData("99999ms", 99_999)]
    public void GatewayDuration_Valid(string text, int ms)
    {
        Assert.True(DurationText.TryParseGateway(text, out var value));
        Assert.Equal(TimeSpan.FromMilliseconds(ms), value);
    }

    [Theory]
    [InlineData("")]
    [InlineData("10")]
    [InlineData("1.5s")]
    [InlineData("-1s")]
    [InlineData("1d")]
    [InlineData("100000s")]
    [InlineData("1h1m1s1ms1h")]
    [InlineData("10us")]
    [InlineData(" 1s")]
    [InlineData("s")]
    public void GatewayDuration_Invalid(string text) => Assert.False(DurationText.TryParseGateway(text, out _));

    [Theory]
    [InlineData("1.5s", 1_500_000)]
    [InlineData("250us", 250)]
    [InlineData("5m", 300_000_000)]
    [InlineData("1h30m", 5_400_000_000)]
    [InlineData("1000000ns", 1_000)]
    public void IstioDuration_AllowsFractionsAndSmallUnits(string text, long microseconds)
    {
        Assert.True(DurationText.TryParseIstio(text, out var value));
        Assert.Equal(TimeSpan.FromMicroseconds(microseconds), value);
    }

    [Theory]
    [InlineData("1..5s")]
    [InlineData("1")]
    [InlineData("99999999999999999h")]
    public void IstioDuration_Invalid(string text) => Assert.False(DurationText.TryParseIstio(text, out _));

    [Theory]
    [InlineData("reviews", "reviews", null)]
    [InlineData("reviews:9080", "reviews", 9080)]
    [InlineData("[fd00::1]:80", "[fd00::1]", 80)]
    [InlineData("[fd00::1]", "[fd00::1]", null)]
    [InlineData("10.0.0.1:8080", "10.0.0.1", 8080)]
    public void Authority_HostAndPort(string authority, string host, int? port)
    {
        Assert.Equal(host, AuthorityText.HostOf(authority));
        Assert.Equal(port, AuthorityText.PortOf(authority));
    }

    [Theory]
    [InlineData("a=1&b=2", "b", "2")]
    [InlineData("a=1&b=2", "c", null)]
    [InlineData("b=x+y", "b", "x y")]
    [InlineData("b=%zz", "b", "%zz")]
    [InlineData("&&b=1", "b", "1")]
    [InlineData("b=", "b", "")]
    [InlineData("na%6De=v", "name", "v")]
    public void Query_FirstValue(string query, string name, string? value) => Assert.Equal(value, RequestValues.Query(query, name));

    [Theory]
    [InlineData("/", "/anything", true)]
    [InlineData("/", "/", true)]
    [InlineData("/v1", "/v1", true)]
    [InlineData("/v1", "/v1/", true)]
    [InlineData("/v1/", "/v1", true)]
    [InlineData("/v1", "/v10", false)]
    [InlineData("/v1", "/V1", false)]
    [InlineData("/v1/a", "/v1", false)]
    public void PathPrefix_ElementWise(string prefix, string path, bool matches) =>
        Assert.Equal(matches, PathPrefix.Matches(PathPrefix.Normalize(prefix), path));

    [Fact]
    public void RouteRegex_IsFullMatchAndRejectsBackReferences()
    {
        var regex = RouteRegex.TryCreate("/a[0-9]+", out _)!;
        Assert.True(RouteRegex.IsMatch(regex, "/a12"));
        Assert.False(RouteRegex.IsMatch(regex, "/a12/b"));
        Assert.False(RouteRegex.IsMatch(regex, "x/a12"));
        Assert.Null(RouteRegex.TryCreate("(a)\\1", out var error));
        Assert.NotNull(error);
        Assert.Null(RouteRegex.TryCreate(new string('a', RouteRegex.MaxPatternLength + 1), out _));
    }
}

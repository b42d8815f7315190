using Ambient.Config;
using Ambient.Config.Routes;
using YamlDotNet.RepresentationModel;

namespace Ambient.Tests.Waypoint;

/// <summary>Parses YAML text with the route entry points, for the Route*/Authz*/Jwt* tests.</summary>
internal static class RouteTestSupport
{
    public const string Source = "ambient.yaml";

    public static YamlNode Node(string yaml)
    {
        var stream = new YamlStream();
        stream.Load(new StringReader(yaml));
        return stream.Documents[0].RootNode;
    }

    /// <summary>A route object in flow style around <paramref name="spec"/> (the inside of <c>spec: { }</c>).</summary>
    public static string Object(string spec, string extraMetadata = "") =>
        $"{{metadata: {{name: reviews, namespace: default{extraMetadata}}}, spec: {{{spec}}}}}";

    public static ParsedConfigObject<HttpRoute> Http(string yaml) => RouteConfigParser.ParseHttpRoute(Node(yaml), Source, "httpRoutes[2]", 2);
    public static ParsedConfigObject<GrpcRoute> GrpcYaml(string yaml) => RouteConfigParser.ParseGrpcRoute(Node(yaml), Source, "grpcRoutes[0]");
    public static ParsedConfigObject<DestinationRule> Rule(string yaml) => RouteConfigParser.ParseDestinationRule(Node(yaml), Source, "destinationRules[0]");
    public static ParsedConfigObject<RequestAuthentication> Authn(string yaml) => RouteConfigParser.ParseRequestAuthentication(Node(yaml), Source, "requestAuthentications[0]");

    public static T Ok<T>(ParsedConfigObject<T> parsed) where T : class
    {
        Assert.True(parsed.Ok, "expected no errors, got:\n" + string.Join("\n", parsed.Errors.Select(parsed.Describe)));
        return parsed.Value!;
    }

    /// <summary>Asserts the object was rejected with an error at <paramref name="path"/> whose message contains <paramref name="fragment"/>.</summary>
    public static ConfigError Rejected<T>(ParsedConfigObject<T> parsed, string path, string fragment) where T : class
    {
        Assert.False(parsed.Ok);
        Assert.Null(parsed.Value);
        var all = string.Join("\n", parsed.Errors.Select(parsed.Describe));
        var match = parsed.Errors.FirstOrDefault(e => e.FieldPath == path && e.Message.Contains(fragment, StringComparison.Ordinal));
        Assert.True(match is not null, $"expected an error at '{path}' containing '{fragment}', got:\n{all}");
        return match!;
    }
}

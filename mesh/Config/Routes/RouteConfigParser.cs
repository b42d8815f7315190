using System.Collections.Immutable;
using YamlDotNet.RepresentationModel;

namespace Ambient.Config.Routes;

/// <summary>
/// Entry points for the L7 config kinds. Each object is validated on its own and comes back as a
/// <see cref="ParsedConfigObject{T}"/> whose value is null when it had errors, so one bad object is dropped alone.
/// <list type="bullet">
/// <item>Config file lists (<c>httpRoutes:</c>, <c>grpcRoutes:</c>, <c>destinationRules:</c>,
/// <c>requestAuthentications:</c>): the <c>Parse*List(top)</c> methods, which also add every error to the file's reader.</item>
/// <item>One object (a Kubernetes API object converted to YAML, as <c>PolicyMapping</c> does): <c>Parse*(node, sourceName)</c>.</item>
/// </list>
/// Cross-object rules (duplicate namespace/name) are the caller's.
/// </summary>
public static class RouteConfigParser
{
    public const string HttpRoutesKey = "httpRoutes";
    public const string GrpcRoutesKey = "grpcRoutes";
    public const string DestinationRulesKey = "destinationRules";
    public const string RequestAuthenticationsKey = "requestAuthentications";

    public static ParsedConfigObject<HttpRoute> ParseHttpRoute(YamlNode node, string sourceName, string path = "", int index = 0) =>
        ConfigObjectList.ParseOne<HttpRoute>(node, sourceName, path, index, HttpRouteParser.Parse);

    public static ParsedConfigObject<GrpcRoute> ParseGrpcRoute(YamlNode node, string sourceName, string path = "", int index = 0) =>
        ConfigObjectList.ParseOne<GrpcRoute>(node, sourceName, path, index, GrpcRouteParser.Parse);

    public static ParsedConfigObject<DestinationRule> ParseDestinationRule(YamlNode node, string sourceName, string path = "", int index = 0) =>
        ConfigObjectList.ParseOne<DestinationRule>(node, sourceName, path, index, DestinationRuleParser.Parse);

    public static ParsedConfigObject<RequestAuthentication> ParseRequestAuthentication(YamlNode node, string sourceName, string path = "", int index = 0) =>
        ConfigObjectList.ParseOne<RequestAuthentication>(node, sourceName, path, index, RequestAuthenticationParser.Parse);

    internal static ImmutableArray<ParsedConfigObject<HttpRoute>> ParseHttpRouteList(YamlMap top) =>
        ConfigObjectList.ParseAll<HttpRoute>(top, HttpRoutesKey, HttpRouteParser.Parse);

    internal static ImmutableArray<ParsedConfigObject<GrpcRoute>> ParseGrpcRouteList(YamlMap top) =>
        ConfigObjectList.ParseAll<GrpcRoute>(top, GrpcRoutesKey, GrpcRouteParser.Parse);

    internal static ImmutableArray<ParsedConfigObject<DestinationRule>> ParseDestinationRuleList(YamlMap top) =>
        ConfigObjectList.ParseAll<DestinationRule>(top, DestinationRulesKey, DestinationRuleParser.Parse);

    internal static ImmutableArray<ParsedConfigObject<RequestAuthentication>> ParseRequestAuthenticationList(YamlMap top) =>
        ConfigObjectList.ParseAll<RequestAuthentication>(top, RequestAuthenticationsKey, RequestAuthenticationParser.Parse);
}

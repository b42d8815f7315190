using System.Collections.Immutable;

namespace Ambient.Config.Routes;

/// <summary>Validates one <c>grpcRoutes:</c> item (Gateway API GRPCRoute).</summary>
internal static class GrpcRouteParser
{
    private static readonly string[] SpecFields = ["parentRefs", "hostnames", "rules"];
    private static readonly string[] RuleFields = ["name", "matches", "filters", "backendRefs"];
    private static readonly string[] MatchFields = ["method", "headers"];
    private static readonly string[] MethodFields = ["type", "service", "method"];

    public static (GrpcRoute?, string?) Parse(YamlMap item)
    {
        var envelope = ObjectEnvelope.Parse(item, "GRPCRoute", ObjectEnvelope.GrpcRouteApiVersions);
        var ns = envelope.Namespace;
        var (fault, rateLimit) = RouteExtensionParser.Parse(item.Reader, envelope.Annotations);
        var spec = item.Map("spec", SpecFields, required: true);
        var parents = ImmutableArray<RouteParentRef>.Empty;
        var hostnames = ImmutableArray<string>.Empty;
        var rules = ImmutableArray.CreateBuilder<GrpcRouteRule>();
        if (spec is not null)
        {
            parents = RouteReferenceParser.ParentRefs(spec, ns);
            hostnames = RouteReferenceParser.Hostnames(spec);
            RouteFieldRules.MaxItems(spec, "rules", RouteLimits.Rules);
            var names = new HashSet<string>(StringComparer.Ordinal);
            foreach (var (node, path, _) in spec.List("rules"))
            {
                var map = spec.Reader.Map(node, path, RuleFields);
                if (map is null) continue;
                var name = map.Name("name", DnsNames.IsSubdomain, DnsNames.SubdomainRule, required: false);
                if (name is not null && !names.Add(name))
                    map.Reader.Error(map.Get("name")!, map.PathOf("name"), $"rule name '{name}' is used twice in this route");
                RouteFieldRules.MaxItems(map, "matches", RouteLimits.Matches);
                var matches = ImmutableArray.CreateBuilder<GrpcRouteMatch>();
                foreach (var (matchNode, matchPath, _) in map.List("matches"))
                {
                    var matchMap = map.Reader.Map(matchNode, matchPath, MatchFields);
                    if (matchMap is null) continue;
                    matches.Add(new GrpcRouteMatch
                    {
                        Method = Method(matchMap),
                        Headers = RouteMatchParser.ValueMatches(matchMap, "headers", headers: true, RouteLimits.HeaderMatches),
                    });
                }
                rules.Add(new GrpcRouteRule
                {
                    Name = name,
                    Matches = matches.ToImmutable(),
                    Filters = RouteFilterParser.Filters(map, ns, RouteFilterParser.Place.GrpcRule),
                    BackendRefs = RouteBackendParser.BackendRefs(map, ns, RouteFilterParser.Place.GrpcBackend),
                });
            }
        }
        if (envelope.Name is null || ns is null) return (null, null);
        return (new GrpcRoute
        {
            Name = envelope.Name, Namespace = ns, ParentRefs = parents, Hostnames = hostnames, Rules = rules.ToImmutable(),
            Fault = fault, RateLimit = rateLimit,
        }, $"{ns}/{envelope.Name}");
    }

    private static GrpcMethodMatch? Method(YamlMap owner)
    {
        var map = owner.Map("method", MethodFields);
        if (map is null) return null;
        var type = map.Get("type") is { } typeNode
            ? map.Reader.Enum(typeNode, map.PathOf("type"), "method match type", RouteMatchParser.StringMatchTypes)
            : StringMatchType.Exact;
        if (type is null) return null;
        var service = Part(map, "service", type.Value, IsService, "a fully qualified service name such as 'helloworld.Greeter' (letters, digits and '_', dot-separated)");
        var method = Part(map, "method", type.Value, IsMethod, "a method name such as 'SayHello' (letters, digits and '_')");
        if (map.Get("service") is null && map.Get("method") is null)
        {
            map.Reader.Error(map.Node, map.Path, "a method match needs 'service' and/or 'method'");
            return null;
        }
        return new GrpcMethodMatch(type.Value, service, method);
    }

    private static string? Part(YamlMap map, string key, StringMatchType type, Func<string, bool> isValid, string rule)
    {
        var text = map.String(key);
        if (text is null) return null;
        string? problem;
        if (type == StringMatchType.RegularExpression) RouteRegex.TryCreate(text, out problem);
        else problem = isValid(text) && text.Length <= 1024 ? null : $"'{text}' is not valid: expected {rule}";
        if (problem is null) return text;
        map.Reader.Error(map.Get(key)!, map.PathOf(key), problem);
        return null;
    }

    private static bool IsService(string text)
    {
        foreach (var part in text.Split('.'))
        {
            if (!IsMethod(part)) return false;
        }
        return true;
    }

    private static bool IsMethod(string text)
    {
        if (text.Length == 0 || char.IsAsciiDigit(text[0])) return false;
        foreach (var c in text)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c == '_')) return false;
        }
        return true;
    }
}

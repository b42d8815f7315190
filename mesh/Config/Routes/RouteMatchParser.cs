using System.Collections.Immutable;

namespace Ambient.Config.Routes;

/// <summary>Parses header and query parameter matches (<c>{ type, name, value }</c>), shared by HTTPRoute and GRPCRoute.</summary>
internal static class RouteMatchParser
{
    private static readonly string[] ValueMatchFields = ["type", "name", "value"];
    internal static readonly (string, StringMatchType)[] StringMatchTypes =
        [("Exact", StringMatchType.Exact), ("RegularExpression", StringMatchType.RegularExpression)];

    /// <param name="headers">Header names are case-insensitive and must be tokens; query names are compared exactly.</param>
    public static ImmutableArray<RouteValueMatch> ValueMatches(YamlMap owner, string key, bool headers, int max)
    {
        RouteFieldRules.MaxItems(owner, key, max);
        var builder = ImmutableArray.CreateBuilder<RouteValueMatch>();
        var seen = new HashSet<string>(headers ? StringComparer.OrdinalIgnoreCase : StringComparer.Ordinal);
        foreach (var (item, path, _) in owner.List(key))
        {
            var map = owner.Reader.Map(item, path, ValueMatchFields);
            if (map is null) continue;
            var type = map.Get("type") is { } typeNode
                ? map.Reader.Enum(typeNode, map.PathOf("type"), "match type", StringMatchTypes)
                : StringMatchType.Exact;
            var name = map.String("name", required: true);
            var value = map.Get("value") is null ? null : map.String("value") ?? "";
            if (map.Get("value") is null) map.Missing("value");
            if (name is not null)
            {
                var problem = headers ? RouteFieldRules.HeaderName(name) : name.Length > RouteLimits.HeaderNameLength ? $"name is longer than {RouteLimits.HeaderNameLength} characters" : null;
                if (problem is not null)
                {
                    map.Reader.Error(map.Get("name")!, map.PathOf("name"), problem);
                    name = null;
                }
                else if (!seen.Add(name))
                {
                    map.Reader.Error(map.Get("name")!, map.PathOf("name"), $"'{name}' is matched twice in this match (names must be unique{(headers ? ", case-insensitively" : "")})");
                    name = null;
                }
            }
            if (value is not null && type == StringMatchType.RegularExpression && RouteRegex.TryCreate(value, out var error) is null)
            {
                map.Reader.Error(map.Get("value")!, map.PathOf("value"), error!);
                value = null;
            }
            else if (value is not null && RouteFieldRules.HeaderValue(value) is { } valueProblem)
            {
                map.Reader.Error(map.Get("value")!, map.PathOf("value"), valueProblem);
                value = null;
            }
            if (type is null || name is null || value is null) continue;
            builder.Add(new RouteValueMatch(type.Value, name, value));
        }
        return builder.ToImmutable();
    }
}

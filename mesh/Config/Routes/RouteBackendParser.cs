using System.Collections.Immutable;

namespace Ambient.Config.Routes;

/// <summary>Parses <c>backendRefs[]</c>: a Service reference plus <c>weight</c> (default 1) and per-backend <c>filters</c>.</summary>
internal static class RouteBackendParser
{
    private static readonly string[] Fields = ["group", "kind", "name", "namespace", "port", "weight", "filters"];

    public static ImmutableArray<RouteBackendRef> BackendRefs(YamlMap rule, string? routeNamespace, RouteFilterParser.Place filterPlace)
    {
        RouteFieldRules.MaxItems(rule, "backendRefs", RouteLimits.BackendRefs);
        var builder = ImmutableArray.CreateBuilder<RouteBackendRef>();
        foreach (var (item, path, _) in rule.List("backendRefs"))
        {
            var map = rule.Reader.Map(item, path, Fields);
            if (map is null) continue;
            var backend = RouteReferenceParser.Backend(map, routeNamespace);
            var weightNode = map.Get("weight");
            int? weight = 1;
            if (weightNode is not null)
            {
                var text = map.Reader.Scalar(weightNode, map.PathOf("weight"), "a weight");
                weight = text is not null && int.TryParse(text, System.Globalization.NumberStyles.AllowLeadingSign, System.Globalization.CultureInfo.InvariantCulture, out var w)
                         && w is >= 0 and <= RouteLimits.MaxWeight ? w : null;
                if (weight is null && text is not null)
                    map.Reader.Error(weightNode, map.PathOf("weight"), $"must be 0..{RouteLimits.MaxWeight}, got '{text}'");
            }
            var filters = RouteFilterParser.Filters(map, routeNamespace, filterPlace);
            if (backend is null || weight is null) continue;
            builder.Add(new RouteBackendRef { Backend = backend, Weight = weight.Value, Filters = filters });
        }
        return builder.ToImmutable();
    }
}

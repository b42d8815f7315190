using System.Collections.Immutable;

namespace Ambient.Config.Routes;

/// <summary>Parses Gateway API <c>filters[]</c> of rules and backendRefs.</summary>
internal static class RouteFilterParser
{
    /// <summary>Where a filter list sits; each place allows a different set of filter types.</summary>
    internal enum Place { HttpRule, HttpBackend, GrpcRule, GrpcBackend }

    private static readonly string[] FilterFields =
        ["type", "requestHeaderModifier", "responseHeaderModifier", "requestRedirect", "urlRewrite", "requestMirror", "extensionRef"];
    private static readonly string[] ModifierFields = ["set", "add", "remove"];
    private static readonly string[] HeaderFields = ["name", "value"];
    private static readonly string[] RedirectFields = ["scheme", "hostname", "path", "port", "statusCode"];
    private static readonly string[] RewriteFields = ["hostname", "path"];
    private static readonly string[] PathModifierFields = ["type", "replaceFullPath", "replacePrefixMatch"];
    private static readonly string[] MirrorFields = ["backendRef", "percent", "fraction"];
    private static readonly string[] FractionFields = ["numerator", "denominator"];

    /// <summary>Gateway API filter type names; ExtensionRef is known (to give a clear error) but has no <see cref="RouteFilterType"/>.</summary>
    private const int ExtensionRef = -1;
    private static readonly (string, int)[] Types =
    [
        ("RequestHeaderModifier", (int)RouteFilterType.RequestHeaderModifier),
        ("ResponseHeaderModifier", (int)RouteFilterType.ResponseHeaderModifier),
        ("RequestRedirect", (int)RouteFilterType.RequestRedirect),
        ("URLRewrite", (int)RouteFilterType.UrlRewrite),
        ("RequestMirror", (int)RouteFilterType.RequestMirror),
        ("ExtensionRef", ExtensionRef),
    ];

    private static readonly (string, PathModifierType)[] PathTypes =
        [("ReplaceFullPath", PathModifierType.ReplaceFullPath), ("ReplacePrefixMatch", PathModifierType.ReplacePrefixMatch)];

    private static readonly int[] RedirectCodes = [301, 302, 303, 307, 308];

    public static ImmutableArray<RouteFilter> Filters(YamlMap owner, string? routeNamespace, Place place)
    {
        RouteFieldRules.MaxItems(owner, "filters", RouteLimits.Filters);
        var builder = ImmutableArray.CreateBuilder<RouteFilter>();
        var seen = new HashSet<RouteFilterType>();
        foreach (var (item, path, _) in owner.List("filters"))
        {
            var map = owner.Reader.Map(item, path, FilterFields);
            if (map is null) continue;
            var filter = Filter(map, routeNamespace, place);
            if (filter is null) continue;
            // Gateway API: each filter type at most once per list, except RequestMirror; redirect and rewrite exclude each other.
            if (filter.Type != RouteFilterType.RequestMirror && !seen.Add(filter.Type))
            {
                map.Reader.Error(map.Get("type")!, map.PathOf("type"), $"filter {Name(filter.Type)} can be used only once per filters list");
                continue;
            }
            if ((filter.Type == RouteFilterType.RequestRedirect && seen.Contains(RouteFilterType.UrlRewrite))
                || (filter.Type == RouteFilterType.UrlRewrite && seen.Contains(RouteFilterType.RequestRedirect)))
            {
                map.Reader.Error(map.Get("type")!, map.PathOf("type"), "RequestRedirect and URLRewrite cannot be used together");
                continue;
            }
            builder.Add(filter);
        }
        return builder.ToImmutable();
    }

    private static string Name(RouteFilterType type) => type == RouteFilterType.UrlRewrite ? "URLRewrite" : type.ToString();

    private static RouteFilter? Filter(YamlMap map, string? routeNamespace, Place place)
    {
        var reader = map.Reader;
        if (map.Get("type") is not { } typeNode)
        {
            map.Missing("type");
            return null;
        }
        var found = reader.Enum(typeNode, map.PathOf("type"), "filter type", Types);
        if (found is null) return null; // invalid name, reported
        if (found.Value == ExtensionRef)
        {
            reader.Error(typeNode, map.PathOf("type"), "filter type ExtensionRef is not supported by Ambient (see the ambient.dev/* route annotations for fault injection and rate limits)");
            return null;
        }
        var type = (RouteFilterType)found.Value;
        var allowed = place switch
        {
            Place.HttpRule => true,
            Place.HttpBackend or Place.GrpcRule or Place.GrpcBackend =>
                type is RouteFilterType.RequestHeaderModifier or RouteFilterType.ResponseHeaderModifier or RouteFilterType.RequestMirror,
            _ => false,
        };
        if (!allowed)
        {
            var where = place switch { Place.HttpBackend or Place.GrpcBackend => "in backendRefs filters", _ => "in a GRPCRoute" };
            reader.Error(typeNode, map.PathOf("type"), $"filter {Name(type)} is not supported {where} (use RequestHeaderModifier, ResponseHeaderModifier or RequestMirror)");
            return null;
        }

        // Exactly the field named after the type may be set.
        var expectedField = type switch
        {
            RouteFilterType.RequestHeaderModifier => "requestHeaderModifier",
            RouteFilterType.ResponseHeaderModifier => "responseHeaderModifier",
            RouteFilterType.RequestRedirect => "requestRedirect",
            RouteFilterType.UrlRewrite => "urlRewrite",
            _ => "requestMirror",
        };
        var ok = true;
        foreach (var field in FilterFields)
        {
            if (field is "type" || field == expectedField || map.Get(field) is not { } other) continue;
            reader.Error(other, map.PathOf(field), $"'{field}' does not belong to a filter of type {Name(type)} (set '{expectedField}')");
            ok = false;
        }
        var body = map.Map(expectedField, type switch
        {
            RouteFilterType.RequestRedirect => RedirectFields,
            RouteFilterType.UrlRewrite => RewriteFields,
            RouteFilterType.RequestMirror => MirrorFields,
            _ => ModifierFields,
        }, required: true);
        if (body is null || !ok) return null;
        return type switch
        {
            RouteFilterType.RequestHeaderModifier or RouteFilterType.ResponseHeaderModifier =>
                HeaderModifier(body) is { } modifier ? new RouteFilter { Type = type, HeaderModifier = modifier } : null,
            RouteFilterType.RequestRedirect => Redirect(body) is { } redirect ? new RouteFilter { Type = type, Redirect = redirect } : null,
            RouteFilterType.UrlRewrite => Rewrite(body) is { } rewrite ? new RouteFilter { Type = type, Rewrite = rewrite } : null,
            _ => Mirror(body, routeNamespace) is { } mirror ? new RouteFilter { Type = type, Mirror = mirror } : null,
        };
    }

    private static HeaderModifier? HeaderModifier(YamlMap map)
    {
        var set = Headers(map, "set");
        var add = Headers(map, "add");
        RouteFieldRules.MaxItems(map, "remove", RouteLimits.HeaderModifierEntries);
        var removeSeen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        var remove = map.Strings("remove", name => RouteFieldRules.HeaderName(name) ?? (removeSeen.Add(name) ? null : $"'{name}' is listed twice"));
        if (map.IsEffectivelyEmpty) map.Reader.Error(map.Node, map.Path, "a header modifier needs at least one of 'set', 'add' or 'remove'");
        return new HeaderModifier { Set = set, Add = add, Remove = remove };
    }

    private static ImmutableArray<HttpHeaderValue> Headers(YamlMap owner, string key)
    {
        RouteFieldRules.MaxItems(owner, key, RouteLimits.HeaderModifierEntries);
        var builder = ImmutableArray.CreateBuilder<HttpHeaderValue>();
        var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (var (item, path, _) in owner.List(key))
        {
            var map = owner.Reader.Map(item, path, HeaderFields);
            if (map is null) continue;
            var name = map.String("name", required: true);
            var value = map.Get("value") is null ? "" : map.String("value");
            if (name is not null && (RouteFieldRules.HeaderName(name) ?? (seen.Add(name) ? null : $"header '{name}' is listed twice in '{key}'")) is { } problem)
            {
                map.Reader.Error(map.Get("name")!, map.PathOf("name"), problem);
                name = null;
            }
            if (value is not null && RouteFieldRules.HeaderValue(value) is { } valueProblem)
            {
                map.Reader.Error(map.Get("value")!, map.PathOf("value"), valueProblem);
                value = null;
            }
            if (name is not null && value is not null) builder.Add(new HttpHeaderValue(name, value));
        }
        return builder.ToImmutable();
    }

    private static RequestRedirect? Redirect(YamlMap map)
    {
        var scheme = map.String("scheme");
        if (scheme is not null && scheme is not ("http" or "https"))
        {
            map.Reader.Error(map.Get("scheme")!, map.PathOf("scheme"), $"'{scheme}' is not a valid scheme (expected http or https)");
            scheme = null;
        }
        var hostname = PreciseHostname(map);
        var path = PathModifier(map);
        var port = RouteFieldRules.Int(map, "port", 1, 65535, "port");
        var status = RouteFieldRules.Int(map, "statusCode", 100, 599, "status code");
        if (status is not null && Array.IndexOf(RedirectCodes, status.Value) < 0)
        {
            map.Reader.Error(map.Get("statusCode")!, map.PathOf("statusCode"), $"statusCode {status} is not a redirect (expected one of {string.Join(", ", RedirectCodes)})");
        }
        return new RequestRedirect { Scheme = scheme, Hostname = hostname, Path = path, Port = port, StatusCode = status ?? 302 };
    }

    private static UrlRewrite? Rewrite(YamlMap map)
    {
        var rewrite = new UrlRewrite { Hostname = PreciseHostname(map), Path = PathModifier(map) };
        if (map.IsEffectivelyEmpty) map.Reader.Error(map.Node, map.Path, "urlRewrite needs 'hostname' and/or 'path'");
        return rewrite;
    }

    private static string? PreciseHostname(YamlMap map)
    {
        var hostname = map.String("hostname");
        if (hostname is not null && RouteFieldRules.Hostname(hostname, allowWildcard: false) is { } problem)
        {
            map.Reader.Error(map.Get("hostname")!, map.PathOf("hostname"), problem);
            return null;
        }
        return hostname;
    }

    private static PathModifier? PathModifier(YamlMap owner)
    {
        var map = owner.Map("path", PathModifierFields);
        if (map is null) return null;
        if (map.Get("type") is not { } typeNode)
        {
            map.Missing("type");
            return null;
        }
        var type = map.Reader.Enum(typeNode, map.PathOf("type"), "path modifier type", PathTypes);
        if (type is null) return null;
        var field = type == PathModifierType.ReplaceFullPath ? "replaceFullPath" : "replacePrefixMatch";
        var other = type == PathModifierType.ReplaceFullPath ? "replacePrefixMatch" : "replaceFullPath";
        if (map.Get(other) is { } otherNode)
        {
            map.Reader.Error(otherNode, map.PathOf(other), $"'{other}' does not belong to path type {type} (set '{field}')");
            return null;
        }
        var value = map.String(field, required: true);
        if (value is null) return null;
        if (RouteFieldRules.AbsolutePath(value) is { } problem)
        {
            map.Reader.Error(map.Get(field)!, map.PathOf(field), problem);
            return null;
        }
        return new PathModifier(type.Value, value);
    }

    private static RequestMirror? Mirror(YamlMap map, string? routeNamespace)
    {
        var backendMap = map.Map("backendRef", RouteReferenceParser.BackendFields, required: true);
        var backend = backendMap is null ? null : RouteReferenceParser.Backend(backendMap, routeNamespace);
        double fraction = 1.0;
        if (map.Get("percent") is not null && map.Get("fraction") is not null)
        {
            map.Reader.Error(map.Get("fraction")!, map.PathOf("fraction"), "only one of 'percent' or 'fraction' can be set");
            return null;
        }
        if (RouteFieldRules.Int(map, "percent", 0, 100, "percent") is { } percent) fraction = percent / 100.0;
        if (map.Map("fraction", FractionFields) is { } fractionMap)
        {
            var numerator = RouteFieldRules.Int(fractionMap, "numerator", 0, int.MaxValue, "numerator");
            if (fractionMap.Get("numerator") is null) fractionMap.Missing("numerator");
            var denominator = RouteFieldRules.Int(fractionMap, "denominator", 1, int.MaxValue, "denominator") ?? 100;
            if (numerator > denominator)
            {
                fractionMap.Reader.Error(fractionMap.Get("numerator")!, fractionMap.PathOf("numerator"), $"numerator {numerator} must not exceed the denominator {denominator}");
                return null;
            }
            if (numerator is null) return null;
            fraction = (double)numerator.Value / denominator;
        }
        return backend is null ? null : new RequestMirror { Backend = backend, Fraction = fraction };
    }
}

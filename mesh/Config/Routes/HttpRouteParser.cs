using System.Collections.Immutable;

namespace Ambient.Config.Routes;

/// <summary>Validates one <c>httpRoutes:</c> item (Gateway API HTTPRoute, v1 with the v1.2 <c>retry</c> field).</summary>
internal static class HttpRouteParser
{
    private static readonly string[] SpecFields = ["parentRefs", "hostnames", "rules"];
    private static readonly string[] RuleFields = ["name", "matches", "filters", "backendRefs", "timeouts", "retry"];
    private static readonly string[] MatchFields = ["path", "headers", "queryParams", "method"];
    private static readonly string[] PathFields = ["type", "value"];
    private static readonly string[] TimeoutFields = ["request", "backendRequest"];
    private static readonly string[] RetryFields = ["codes", "attempts", "backoff"];
    private const int MaxMatchesPerRoute = 128;

    private static readonly (string, PathMatchType)[] PathTypes =
        [("Exact", PathMatchType.Exact), ("PathPrefix", PathMatchType.PathPrefix), ("RegularExpression", PathMatchType.RegularExpression)];

    private static readonly string[] Methods = ["GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"];

    public static (HttpRoute?, string?) Parse(YamlMap item)
    {
        var envelope = ObjectEnvelope.Parse(item, "HTTPRoute", ObjectEnvelope.GatewayApiVersions);
        var ns = envelope.Namespace;
        var (fault, rateLimit) = RouteExtensionParser.Parse(item.Reader, envelope.Annotations);
        var spec = item.Map("spec", SpecFields, required: true);
        var parents = ImmutableArray<RouteParentRef>.Empty;
        var hostnames = ImmutableArray<string>.Empty;
        var rules = ImmutableArray.CreateBuilder<HttpRouteRule>();
        if (spec is not null)
        {
            parents = RouteReferenceParser.ParentRefs(spec, ns);
            hostnames = RouteReferenceParser.Hostnames(spec);
            RouteFieldRules.MaxItems(spec, "rules", RouteLimits.Rules);
            var names = new HashSet<string>(StringComparer.Ordinal);
            var totalMatches = 0;
            foreach (var (node, path, _) in spec.List("rules"))
            {
                var map = spec.Reader.Map(node, path, RuleFields);
                if (map is null) continue;
                var rule = Rule(map, ns, names);
                totalMatches += rule.Matches.Length;
                rules.Add(rule);
            }
            if (totalMatches > MaxMatchesPerRoute)
                spec.Reader.Error(spec.Get("rules")!, spec.PathOf("rules"), $"at most {MaxMatchesPerRoute} matches are allowed across all rules, got {totalMatches}");
        }
        var key = envelope.Name is null || ns is null ? null : $"{ns}/{envelope.Name}";
        if (key is null) return (null, null);
        return (new HttpRoute
        {
            Name = envelope.Name!, Namespace = ns!, ParentRefs = parents, Hostnames = hostnames, Rules = rules.ToImmutable(),
            Fault = fault, RateLimit = rateLimit,
        }, key);
    }

    private static HttpRouteRule Rule(YamlMap map, string? ns, HashSet<string> names)
    {
        var name = map.Name("name", DnsNames.IsSubdomain, DnsNames.SubdomainRule, required: false);
        if (name is not null && !names.Add(name))
            map.Reader.Error(map.Get("name")!, map.PathOf("name"), $"rule name '{name}' is used twice in this route");

        RouteFieldRules.MaxItems(map, "matches", RouteLimits.Matches);
        var matches = ImmutableArray.CreateBuilder<HttpRouteMatch>();
        foreach (var (node, path, _) in map.List("matches"))
        {
            var matchMap = map.Reader.Map(node, path, MatchFields);
            if (matchMap is not null) matches.Add(Match(matchMap));
        }
        var filters = RouteFilterParser.Filters(map, ns, RouteFilterParser.Place.HttpRule);
        var backends = RouteBackendParser.BackendRefs(map, ns, RouteFilterParser.Place.HttpBackend);
        var rule = new HttpRouteRule
        {
            Name = name,
            Matches = map.Get("matches") is null ? [HttpRouteMatch.Default] : matches.ToImmutable(),
            Filters = filters,
            BackendRefs = backends,
            Timeouts = Timeouts(map),
            Retry = Retry(map),
        };
        CheckPrefixReplacement(map, rule);
        return rule;
    }

    private static HttpRouteMatch Match(YamlMap map)
    {
        var path = new HttpPathMatch(PathMatchType.PathPrefix, "/");
        if (map.Map("path", PathFields) is { } pathMap)
        {
            var type = pathMap.Get("type") is { } typeNode
                ? pathMap.Reader.Enum(typeNode, pathMap.PathOf("type"), "path match type", PathTypes)
                : PathMatchType.PathPrefix;
            var value = pathMap.Get("value") is null ? "/" : pathMap.String("value");
            if (type is not null && value is not null)
            {
                var problem = type == PathMatchType.RegularExpression ? RegexProblem(value) : RouteFieldRules.AbsolutePath(value);
                if (problem is not null) pathMap.Reader.Error(pathMap.Get("value")!, pathMap.PathOf("value"), problem);
                else path = new HttpPathMatch(type.Value, value);
            }
        }
        string? method = null;
        if (map.String("method") is { } methodText)
        {
            // Gateway API methods are a case-sensitive enum of upper-case names.
            if (Array.IndexOf(Methods, methodText) >= 0) method = methodText;
            else
            {
                var suggestion = Suggestions.Closest(methodText, Methods);
                map.Reader.Error(map.Get("method")!, map.PathOf("method"), $"'{methodText}' is not a valid HTTP method (expected one of {string.Join(", ", Methods)}"
                    + (suggestion is null ? ")" : $"; did you mean '{suggestion}'?)"));
            }
        }
        return new HttpRouteMatch
        {
            Path = path,
            Headers = RouteMatchParser.ValueMatches(map, "headers", headers: true, RouteLimits.HeaderMatches),
            QueryParams = RouteMatchParser.ValueMatches(map, "queryParams", headers: false, RouteLimits.QueryMatches),
            Method = method,
        };
    }

    private static string? RegexProblem(string pattern)
    {
        RouteRegex.TryCreate(pattern, out var error);
        return error;
    }

    private static RouteTimeouts? Timeouts(YamlMap rule)
    {
        var map = rule.Map("timeouts", TimeoutFields);
        if (map is null) return null;
        var request = RouteFieldRules.GatewayDuration(map, "request");
        var backend = RouteFieldRules.GatewayDuration(map, "backendRequest");
        // Gateway API: backendRequest must not exceed request (a zero request timeout means none).
        if (request is { } r && backend is { } b && r > TimeSpan.Zero && (b > r || b == TimeSpan.Zero))
            map.Reader.Error(map.Get("backendRequest")!, map.PathOf("backendRequest"), $"backendRequest ({map.String("backendRequest")}) must not be longer than request ({map.String("request")})");
        return new RouteTimeouts { Request = request, BackendRequest = backend };
    }

    private static RouteRetry? Retry(YamlMap rule)
    {
        var map = rule.Map("retry", RetryFields);
        if (map is null) return null;
        var codes = ImmutableArray.CreateBuilder<int>();
        if (map.Get("codes") is { } codesNode)
        {
            foreach (var (item, path, _) in map.Reader.Items(codesNode, map.PathOf("codes")))
            {
                if (map.Reader.Int(item, path, 400, 599, "retry status code") is { } code) codes.Add(code);
            }
        }
        return new RouteRetry
        {
            Codes = codes.ToImmutable(),
            Attempts = RouteFieldRules.Int(map, "attempts", 0, 1000, "attempt count"),
            Backoff = RouteFieldRules.GatewayDuration(map, "backoff"),
        };
    }

    /// <summary>Gateway API: ReplacePrefixMatch needs exactly one match, of type PathPrefix, to know what to replace.</summary>
    private static void CheckPrefixReplacement(YamlMap map, HttpRouteRule rule)
    {
        foreach (var filter in rule.Filters)
        {
            var modifier = filter.Redirect?.Path ?? filter.Rewrite?.Path;
            if (modifier?.Type != PathModifierType.ReplacePrefixMatch) continue;
            if (rule.Matches.Length != 1 || rule.Matches[0].Path.Type != PathMatchType.PathPrefix)
            {
                map.Reader.Error(map.Get("filters")!, map.PathOf("filters"), "ReplacePrefixMatch requires the rule to have exactly one match, with a PathPrefix path");
            }
        }
    }
}

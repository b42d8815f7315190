using System.Collections.Immutable;
using System.Text.Json;

namespace Ambient.Config.Routes;

/// <summary>Validates one <c>requestAuthentications:</c> item (Istio RequestAuthentication).</summary>
internal static class RequestAuthenticationParser
{
    private static readonly string[] SpecFields = ["selector", "targetRef", "targetRefs", "jwtRules"];
    private static readonly string[] TargetRefFields = ["group", "kind", "name", "namespace"];
    private static readonly string[] RuleFields =
    [
        "issuer", "audiences", "jwksUri", "jwks", "fromHeaders", "fromParams", "fromCookies", "outputPayloadToHeader",
        "forwardOriginalToken", "outputClaimToHeaders", "timeout",
    ];
    private static readonly string[] HeaderLocationFields = ["name", "prefix"];
    private static readonly string[] ClaimHeaderFields = ["header", "claim"];

    public static (RequestAuthentication?, string?) Parse(YamlMap item)
    {
        var envelope = ObjectEnvelope.Parse(item, "RequestAuthentication", ObjectEnvelope.IstioSecurityVersions);
        var spec = item.Map("spec", SpecFields);
        WorkloadSelector? selector = null;
        var targets = ImmutableArray.CreateBuilder<PolicyTargetRef>();
        var rules = ImmutableArray.CreateBuilder<JwtRule>();
        if (spec is not null)
        {
            selector = AuthorizationPolicyParser.ParseSelector(spec);
            if (spec.Map("targetRef", TargetRefFields) is { } single && TargetRef(single, envelope.Namespace) is { } one) targets.Add(one);
            foreach (var (node, path, _) in spec.List("targetRefs"))
            {
                if (spec.Reader.Map(node, path, TargetRefFields) is { } map && TargetRef(map, envelope.Namespace) is { } target) targets.Add(target);
            }
            if (spec.Get("targetRef") is not null && spec.Get("targetRefs") is not null)
                spec.Reader.Error(spec.Get("targetRef")!, spec.PathOf("targetRef"), "only one of 'targetRef' or 'targetRefs' can be set");
            if (selector is not null && (spec.Get("targetRef") ?? spec.Get("targetRefs")) is not null)
                spec.Reader.Error(spec.Get("selector")!, spec.PathOf("selector"), "only one of 'selector' or 'targetRefs' can be set");
            foreach (var (node, path, _) in spec.List("jwtRules"))
            {
                if (spec.Reader.Map(node, path, RuleFields) is { } map && Rule(map) is { } rule) rules.Add(rule);
            }
        }
        if (envelope.Name is null || envelope.Namespace is null) return (null, null);
        return (new RequestAuthentication
        {
            Name = envelope.Name, Namespace = envelope.Namespace, Selector = selector, TargetRefs = targets.ToImmutable(), JwtRules = rules.ToImmutable(),
        }, $"{envelope.Namespace}/{envelope.Name}");
    }

    private static PolicyTargetRef? TargetRef(YamlMap map, string? policyNamespace)
    {
        var group = map.String("group") ?? "";
        var kind = map.String("kind", required: true);
        var name = map.String("name", required: true);
        var ns = map.String("namespace");
        if (kind is not null && (kind, group) is not (("Gateway", RouteParentRef.GatewayGroup) or ("Service", "")))
        {
            map.Reader.Error(map.Get("kind")!, map.PathOf("kind"), $"unsupported targetRef '{(group.Length == 0 ? "core" : group)}/{kind}' (expected Service with group \"\" or Gateway with group {RouteParentRef.GatewayGroup})");
            return null;
        }
        if (!string.IsNullOrEmpty(ns) && policyNamespace is not null && ns != policyNamespace)
        {
            map.Reader.Error(map.Get("namespace")!, map.PathOf("namespace"), $"targetRef namespace '{ns}' must match the policy namespace '{policyNamespace}'");
            return null;
        }
        if (kind is null || name is null) return null;
        return new PolicyTargetRef { Group = group, Kind = kind, Name = name, Namespace = string.IsNullOrEmpty(ns) ? null : ns };
    }

    private static JwtRule? Rule(YamlMap map)
    {
        var reader = map.Reader;
        var issuer = map.String("issuer", required: true);
        var audiences = map.Strings("audiences");
        var jwksUri = map.String("jwksUri");
        if (jwksUri is not null && !(Uri.TryCreate(jwksUri, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https" or "file"))
        {
            reader.Error(map.Get("jwksUri")!, map.PathOf("jwksUri"), $"'{jwksUri}' is not an absolute http, https or file URL");
            jwksUri = null;
        }
        var jwks = map.String("jwks");
        if (jwks is not null && JwksProblem(jwks) is { } problem)
        {
            reader.Error(map.Get("jwks")!, map.PathOf("jwks"), problem);
            jwks = null;
        }
        var fromHeaders = ImmutableArray.CreateBuilder<JwtHeaderLocation>();
        foreach (var (node, path, _) in map.List("fromHeaders"))
        {
            if (reader.Map(node, path, HeaderLocationFields) is not { } location) continue;
            var name = location.String("name", required: true);
            if (name is not null && RouteFieldRules.HeaderName(name) is { } nameProblem)
            {
                reader.Error(location.Get("name")!, location.PathOf("name"), nameProblem);
                continue;
            }
            if (name is not null) fromHeaders.Add(new JwtHeaderLocation(name, location.Get("prefix") is null ? "" : location.String("prefix") ?? ""));
        }
        var claimHeaders = ImmutableArray.CreateBuilder<ClaimToHeader>();
        foreach (var (node, path, _) in map.List("outputClaimToHeaders"))
        {
            if (reader.Map(node, path, ClaimHeaderFields) is not { } entry) continue;
            var header = entry.String("header", required: true);
            var claim = entry.String("claim", required: true);
            if (header is not null && RouteFieldRules.HeaderName(header) is { } headerProblem)
            {
                reader.Error(entry.Get("header")!, entry.PathOf("header"), headerProblem);
                continue;
            }
            if (header is not null && claim is not null) claimHeaders.Add(new ClaimToHeader(header, claim));
        }
        var payloadHeader = map.String("outputPayloadToHeader");
        if (payloadHeader is not null && RouteFieldRules.HeaderName(payloadHeader) is { } payloadProblem)
        {
            reader.Error(map.Get("outputPayloadToHeader")!, map.PathOf("outputPayloadToHeader"), payloadProblem);
        }
        var forward = RouteFieldRules.Bool(map, "forwardOriginalToken") ?? false;
        var timeout = RouteFieldRules.IstioDuration(map, "timeout");
        if (issuer is null) return null;
        if (jwks is null && jwksUri is null && map.Get("jwks") is null && map.Get("jwksUri") is null)
        {
            // Istio would discover the JWKS through OpenID discovery of the issuer; Ambient needs it written down.
            reader.Error(map.Node, map.Path, "set 'jwksUri' or 'jwks' (OpenID discovery of the issuer's keys is not supported)");
        }
        return new JwtRule
        {
            Issuer = issuer, Audiences = audiences, JwksUri = jwksUri, Jwks = jwks,
            FromHeaders = fromHeaders.ToImmutable(), FromParams = map.Strings("fromParams"), FromCookies = map.Strings("fromCookies"),
            ForwardOriginalToken = forward, OutputPayloadToHeader = payloadHeader, OutputClaimToHeaders = claimHeaders.ToImmutable(), Timeout = timeout,
        };
    }

    /// <summary>Only the outline is checked here (a JSON object with a <c>keys</c> list); keys are checked when built.</summary>
    private static string? JwksProblem(string json)
    {
        try
        {
            using var document = JsonDocument.Parse(json);
            return document.RootElement.ValueKind == JsonValueKind.Object
                   && document.RootElement.TryGetProperty("keys", out var keys) && keys.ValueKind == JsonValueKind.Array
                ? null
                : "jwks must be a JSON object with a 'keys' list (a JSON Web Key Set)";
        }
        catch (JsonException e)
        {
            return $"jwks is not valid JSON: {e.Message}";
        }
    }
}

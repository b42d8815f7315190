using System.Collections.Immutable;
using System.Net;
using YamlDotNet.RepresentationModel;

namespace Ambient.Config;

/// <summary>Parses and validates <c>authorizationPolicies:</c> items (Istio AuthorizationPolicy shape).</summary>
internal static class AuthorizationPolicyParser
{
    private static readonly string[] SpecFields = ["selector", "targetRef", "targetRefs", "action", "provider", "rules"];
    internal static readonly string[] SelectorFields = ["matchLabels"];
    private static readonly string[] ProviderFields = ["name"];
    private static readonly string[] TargetRefFields = ["group", "kind", "name", "namespace"];
    private static readonly string[] RuleFields = ["from", "to", "when"];
    private static readonly string[] FromFields = ["source"];
    private static readonly string[] ToFields = ["operation"];
    private static readonly string[] SourceFields =
    [
        "principals", "notPrincipals", "requestPrincipals", "notRequestPrincipals", "namespaces", "notNamespaces",
        "ipBlocks", "notIpBlocks", "remoteIpBlocks", "notRemoteIpBlocks",
    ];
    private static readonly string[] OperationFields = ["hosts", "notHosts", "ports", "notPorts", "methods", "notMethods", "paths", "notPaths"];
    private static readonly string[] ConditionFields = ["key", "values", "notValues"];

    private static readonly (string, AuthorizationAction)[] Actions =
    [
        ("ALLOW", AuthorizationAction.Allow), ("DENY", AuthorizationAction.Deny),
        ("AUDIT", AuthorizationAction.Audit), ("CUSTOM", AuthorizationAction.Custom),
    ];

    /// <summary>Istio target kinds and the API group each belongs to.</summary>
    private static readonly Dictionary<string, string> TargetKinds = new(StringComparer.Ordinal)
    {
        ["Gateway"] = "gateway.networking.k8s.io",
        ["GatewayClass"] = "gateway.networking.k8s.io",
        ["Service"] = "",
        ["ServiceEntry"] = "networking.istio.io",
    };

    private static readonly string[] ConditionKeys =
    [
        "source.ip", "remote.ip", "source.namespace", "source.principal", "source.serviceAccount",
        "request.auth.principal", "request.auth.audiences", "request.auth.presenter",
        "destination.ip", "destination.port", "connection.sni",
        "request.headers[]", "request.auth.claims[]", "experimental.envoy.filters.",
    ];

    public static List<ParsedObject<AuthorizationPolicy>> ParseAll(YamlMap top)
    {
        var result = new List<ParsedObject<AuthorizationPolicy>>();
        foreach (var (item, path, index) in top.List("authorizationPolicies"))
        {
            var map = top.Reader.Map(item, path, IstioObjectParser.Fields);
            if (map is null) continue;
            var (policy, nameNode) = Parse(map);
            if (policy is not null) result.Add(new(policy, index, path, nameNode));
        }
        return result;
    }

    internal static (AuthorizationPolicy?, YamlNode NameNode) Parse(YamlMap item)
    {
        var reader = item.Reader;
        var (name, ns, nameNode) = IstioObjectParser.ParseEnvelope(item, "AuthorizationPolicy");
        var spec = item.Map("spec", SpecFields);

        WorkloadSelector? selector = null;
        var targetRefs = ImmutableArray<PolicyTargetRef>.Empty;
        var action = AuthorizationAction.Allow;
        string? provider = null;
        var rules = ImmutableArray<AuthorizationRule>.Empty;
        if (spec is not null)
        {
            selector = ParseSelector(spec);
            targetRefs = ParseTargetRefs(spec, ns);
            if (selector is not null && !targetRefs.IsEmpty)
            {
                reader.Error(spec.Get("selector")!, spec.PathOf("selector"), "only one of 'selector' or 'targetRefs' can be set");
            }
            if (spec.Get("action") is { } actionNode)
            {
                action = reader.Enum(actionNode, spec.PathOf("action"), "action", Actions) ?? AuthorizationAction.Allow;
            }
            var providerMap = spec.Map("provider", ProviderFields);
            if (providerMap is not null) provider = providerMap.String("name", required: true);
            if (action == AuthorizationAction.Custom && spec.Get("provider") is null)
            {
                reader.Error(spec.Locate("action"), spec.PathOf("provider"), "action CUSTOM requires 'provider' with a name");
            }
            else if (action != AuthorizationAction.Custom && spec.Get("provider") is { } providerNode)
            {
                reader.Error(providerNode, spec.PathOf("provider"), "'provider' can only be set with action CUSTOM");
            }
            rules = [.. spec.List("rules").Select(r => ParseRule(reader, r.Item, r.Path)).OfType<AuthorizationRule>()];
        }

        if (name is null || ns is null) return (null, nameNode);
        return (new AuthorizationPolicy
        {
            Name = name,
            Namespace = ns,
            Selector = selector,
            TargetRefs = targetRefs,
            Action = action,
            Provider = provider,
            Rules = rules,
        }, nameNode);
    }

    internal static WorkloadSelector? ParseSelector(YamlMap spec)
    {
        var selector = spec.Map("selector", SelectorFields);
        if (selector is null) return null;
        var labels = selector.Get("matchLabels") is { } node
            ? spec.Reader.Labels(node, selector.PathOf("matchLabels"))
            : ImmutableDictionary<string, string>.Empty;
        return new WorkloadSelector(labels);
    }

    private static ImmutableArray<PolicyTargetRef> ParseTargetRefs(YamlMap spec, string? policyNamespace)
    {
        var builder = ImmutableArray.CreateBuilder<PolicyTargetRef>();
        if (spec.Get("targetRef") is { } single)
        {
            var parsed = ParseTargetRef(spec.Reader, single, spec.PathOf("targetRef"), policyNamespace);
            if (parsed is not null) builder.Add(parsed);
        }
        foreach (var (item, path, _) in spec.List("targetRefs"))
        {
            var parsed = ParseTargetRef(spec.Reader, item, path, policyNamespace);
            if (parsed is not null) builder.Add(parsed);
        }
        if (spec.Get("targetRef") is not null && spec.Get("targetRefs") is not null)
        {
            spec.Reader.Error(spec.Get("targetRef")!, spec.PathOf("targetRef"), "only one of 'targetRef' or 'targetRefs' can be set");
        }
        return builder.ToImmutable();
    }

    private static PolicyTargetRef? ParseTargetRef(ConfigReader reader, YamlNode node, string path, string? policyNamespace)
    {
        var map = reader.Map(node, path, TargetRefFields);
        if (map is null) return null;
        var group = map.String("group") ?? "";
        var kind = map.String("kind", required: true);
        var name = map.String("name", required: true);
        var ns = map.String("namespace");
        if (kind is not null)
        {
            if (!TargetKinds.TryGetValue(kind, out var expectedGroup))
            {
                var suggestion = Suggestions.Closest(kind, TargetKinds.Keys);
                reader.Error(map.Get("kind")!, map.PathOf("kind"), $"unsupported targetRef kind '{kind}' (expected one of {string.Join(", ", TargetKinds.Keys)}"
                    + (suggestion is null ? ")" : $"; did you mean '{suggestion}'?)"));
                kind = null;
            }
            else if (group != expectedGroup)
            {
                reader.Error(map.Locate("group"), map.PathOf("group"),
                    $"targetRef kind '{kind}' must have group '{expectedGroup}', got '{group}'");
            }
        }
        if (ns is not null && policyNamespace is not null && ns.Length > 0 && ns != policyNamespace)
        {
            reader.Error(map.Get("namespace")!, map.PathOf("namespace"),
                $"targetRef namespace '{ns}' must match the policy namespace '{policyNamespace}' (cross-namespace references are not supported)");
        }
        if (kind is null || name is null) return null;
        return new PolicyTargetRef { Group = group, Kind = kind, Name = name, Namespace = string.IsNullOrEmpty(ns) ? null : ns };
    }

    private static AuthorizationRule? ParseRule(ConfigReader reader, YamlNode node, string path)
    {
        var map = reader.Map(node, path, RuleFields);
        if (map is null) return null;

        var from = ImmutableArray.CreateBuilder<PolicySource>();
        RequireNonEmptyIfPresent(map, "from", "source");
        foreach (var (item, itemPath, _) in map.List("from"))
        {
            var fromMap = reader.Map(item, itemPath, FromFields);
            var sourceMap = fromMap?.Map("source", SourceFields, required: true);
            if (sourceMap is null) continue;
            var source = ParseSource(sourceMap);
            if (source is not null) from.Add(source);
        }

        var to = ImmutableArray.CreateBuilder<PolicyOperation>();
        RequireNonEmptyIfPresent(map, "to", "destination");
        foreach (var (item, itemPath, _) in map.List("to"))
        {
            var toMap = reader.Map(item, itemPath, ToFields);
            var operationMap = toMap?.Map("operation", OperationFields, required: true);
            if (operationMap is null) continue;
            var operation = ParseOperation(operationMap);
            if (operation is not null) to.Add(operation);
        }

        var when = ImmutableArray.CreateBuilder<PolicyCondition>();
        RequireNonEmptyIfPresent(map, "when", "request");
        foreach (var (item, itemPath, _) in map.List("when"))
        {
            var conditionMap = reader.Map(item, itemPath, ConditionFields);
            if (conditionMap is null) continue;
            var condition = ParseCondition(conditionMap);
            if (condition is not null) when.Add(condition);
        }

        return new AuthorizationRule { From = from.ToImmutable(), To = to.ToImmutable(), When = when.ToImmutable() };
    }

    /// <summary>Istio rejects an explicitly empty <c>from: []</c> / <c>to: []</c> / <c>when: []</c>.</summary>
    private static void RequireNonEmptyIfPresent(YamlMap map, string key, string what)
    {
        if (map.Get(key) is YamlSequenceNode { Children.Count: 0 } node)
        {
            map.Reader.Error(node, map.PathOf(key), $"'{key}' must not be empty (omit it to match any {what})");
        }
    }

    private static PolicySource? ParseSource(YamlMap map)
    {
        var source = new PolicySource
        {
            Principals = map.Strings("principals", ValidatePrincipal),
            NotPrincipals = map.Strings("notPrincipals", ValidatePrincipal),
            RequestPrincipals = map.Strings("requestPrincipals", ValidateWildcard),
            NotRequestPrincipals = map.Strings("notRequestPrincipals", ValidateWildcard),
            Namespaces = map.Strings("namespaces", ValidateWildcard),
            NotNamespaces = map.Strings("notNamespaces", ValidateWildcard),
            IpBlocks = Cidrs(map, "ipBlocks"),
            NotIpBlocks = Cidrs(map, "notIpBlocks"),
            RemoteIpBlocks = Cidrs(map, "remoteIpBlocks"),
            NotRemoteIpBlocks = Cidrs(map, "notRemoteIpBlocks"),
        };
        if (map.IsEffectivelyEmpty)
        {
            map.Reader.Error(map.Node, map.Path, "'source' must not be empty (set at least one field, or omit 'from' to match any source)");
        }
        return source;
    }

    private static PolicyOperation? ParseOperation(YamlMap map)
    {
        var operation = new PolicyOperation
        {
            Ports = Ports(map, "ports"),
            NotPorts = Ports(map, "notPorts"),
            Hosts = map.Strings("hosts", ValidateWildcard),
            NotHosts = map.Strings("notHosts", ValidateWildcard),
            Methods = map.Strings("methods"),
            NotMethods = map.Strings("notMethods"),
            Paths = map.Strings("paths"),
            NotPaths = map.Strings("notPaths"),
        };
        if (map.IsEffectivelyEmpty)
        {
            map.Reader.Error(map.Node, map.Path, "'operation' must not be empty (set at least one field, or omit 'to' to match any destination)");
        }
        return operation;
    }

    private static PolicyCondition? ParseCondition(YamlMap map)
    {
        var reader = map.Reader;
        var key = map.String("key", required: true);
        Func<string, string?>? validate = null;
        if (key is not null)
        {
            var problem = ValidateConditionKey(key);
            if (problem is not null)
            {
                reader.Error(map.Get("key")!, map.PathOf("key"), problem);
                key = null;
            }
            else if (key is "source.ip" or "remote.ip" or "destination.ip")
            {
                validate = v => IpText.TryParseCidr(v, out _) ? null : $"'{v}' is not an IP address or CIDR block";
            }
            else if (key == "destination.port")
            {
                validate = v => v.Length is > 0 and <= 5 && v.All(char.IsAsciiDigit) && int.Parse(v, System.Globalization.CultureInfo.InvariantCulture) is >= 1 and <= 65535
                    ? null
                    : $"'{v}' is not a valid port (expected a number 1-65535)";
            }
        }
        var values = map.Strings("values", validate);
        var notValues = map.Strings("notValues", validate);
        if (map.Get("values") is null && map.Get("notValues") is null)
        {
            reader.Error(map.Node, map.Path, "a condition needs 'values' or 'notValues'");
        }
        if (key is null) return null;
        return new PolicyCondition { Key = key, Values = values, NotValues = notValues };
    }

    private static string? ValidateConditionKey(string key)
    {
        foreach (var known in ConditionKeys)
        {
            if (known.EndsWith("[]", StringComparison.Ordinal))
            {
                var prefix = known[..^1]; // "request.headers["
                if (key.StartsWith(prefix, StringComparison.Ordinal))
                {
                    return key.Length > prefix.Length + 1 && key.EndsWith(']') && key.IndexOf(']') == key.Length - 1
                        ? null
                        : $"condition key '{key}' must be '{prefix}<name>]'";
                }
            }
            else if (known.EndsWith('.'))
            {
                if (key.StartsWith(known, StringComparison.Ordinal) && key.Length > known.Length) return null;
            }
            else if (key == known)
            {
                return null;
            }
        }
        var suggestion = Suggestions.Closest(key, ConditionKeys.Where(k => !k.EndsWith(']') && !k.EndsWith('.')));
        return suggestion is not null
            ? $"unknown condition key '{key}' (did you mean '{suggestion}'?)"
            : $"unknown condition key '{key}' (see Istio's authorization conditions: source.ip, destination.port, request.headers[<name>], ...)";
    }

    /// <summary>
    /// Istio principals are SPIFFE ids without the scheme (<c>cluster.local/ns/default/sa/sleep</c>); Istio prepends
    /// <c>spiffe://</c> itself, so a value that already has it would silently never match.
    /// </summary>
    private static string? ValidatePrincipal(string value) =>
        value.StartsWith("spiffe://", StringComparison.OrdinalIgnoreCase)
            ? $"'{value}': principals are written without the 'spiffe://' prefix (use '{value["spiffe://".Length..]}')"
            : ValidateWildcard(value);

    /// <summary>Istio supports a single <c>*</c> as a prefix or suffix (or alone) in principals, namespaces and hosts.</summary>
    private static string? ValidateWildcard(string value)
    {
        if (value == "*") return null;
        var star = value.IndexOf('*');
        if (star < 0) return null;
        var onlyOne = value.IndexOf('*', star + 1) < 0;
        return onlyOne && (star == 0 || star == value.Length - 1)
            ? null
            : $"'{value}': wildcard '*' is only supported as a prefix or suffix";
    }

    private static ImmutableArray<IPNetwork> Cidrs(YamlMap map, string key)
    {
        var node = map.Get(key);
        if (node is null) return [];
        var builder = ImmutableArray.CreateBuilder<IPNetwork>();
        foreach (var (item, path, _) in map.Reader.Items(node, map.PathOf(key)))
        {
            var text = map.Reader.Scalar(item, path, "an IP address or CIDR block");
            if (text is null) continue;
            if (!IpText.TryParseCidr(text, out var network))
            {
                map.Reader.Error(item, path, $"'{text}' is not an IP address or CIDR block");
                continue;
            }
            builder.Add(network);
        }
        return builder.ToImmutable();
    }

    private static ImmutableArray<int> Ports(YamlMap map, string key)
    {
        var node = map.Get(key);
        if (node is null) return [];
        var builder = ImmutableArray.CreateBuilder<int>();
        foreach (var (item, path, _) in map.Reader.Items(node, map.PathOf(key)))
        {
            var port = map.Reader.Int(item, path, 1, 65535, "port");
            if (port is not null) builder.Add(port.Value);
        }
        return builder.ToImmutable();
    }
}

using System.Collections.Immutable;
using YamlDotNet.RepresentationModel;

namespace Ambient.Config.Routes;

/// <summary>Parses <c>parentRefs</c>, <c>hostnames</c> and backend references of HTTPRoute/GRPCRoute.</summary>
internal static class RouteReferenceParser
{
    private static readonly string[] ParentFields = ["group", "kind", "name", "namespace", "sectionName", "port"];
    internal static readonly string[] BackendFields = ["group", "kind", "name", "namespace", "port"];

    public static ImmutableArray<RouteParentRef> ParentRefs(YamlMap spec, string? routeNamespace)
    {
        RouteFieldRules.MaxItems(spec, "parentRefs", RouteLimits.ParentRefs);
        var builder = ImmutableArray.CreateBuilder<RouteParentRef>();
        foreach (var (item, path, _) in spec.List("parentRefs"))
        {
            var map = spec.Reader.Map(item, path, ParentFields);
            if (map is null) continue;
            // "group:" left empty means the core group, like group: "" (only an absent key defaults to Gateway API's group).
            var group = map.KeyNode("group") is null ? RouteParentRef.GatewayGroup : map.String("group") ?? "";
            var kind = map.String("kind") ?? "Gateway";
            var name = map.Name("name", DnsNames.IsSubdomain, DnsNames.SubdomainRule);
            var ns = map.Get("namespace") is null ? routeNamespace : map.Name("namespace", DnsNames.IsLabel, DnsNames.LabelRule);
            var sectionName = map.Name("sectionName", DnsNames.IsSubdomain, DnsNames.SubdomainRule, required: false);
            var port = RouteFieldRules.Int(map, "port", 1, 65535, "port");
            var valid = (kind, group) switch
            {
                ("Gateway", RouteParentRef.GatewayGroup) => true,
                ("Service", "") => true,
                _ => false,
            };
            if (!valid)
            {
                map.Reader.Error(map.Get("kind") ?? map.Node, map.PathOf("kind"),
                    $"unsupported parent '{(group.Length == 0 ? "core" : group)}/{kind}' (expected kind Service with group \"\" for a service (GAMMA), or kind Gateway with group {RouteParentRef.GatewayGroup})");
                continue;
            }
            if (name is null || ns is null) continue;
            builder.Add(new RouteParentRef { Group = group, Kind = kind, Name = name, Namespace = ns, SectionName = sectionName, Port = port });
        }
        return builder.ToImmutable();
    }

    public static ImmutableArray<string> Hostnames(YamlMap spec)
    {
        RouteFieldRules.MaxItems(spec, "hostnames", RouteLimits.Hostnames);
        return spec.Strings("hostnames", h => RouteFieldRules.Hostname(h, allowWildcard: true));
    }

    /// <summary>A Service reference (<c>backendRef</c> of a mirror, or the reference part of a <c>backendRefs[]</c> entry).</summary>
    public static BackendReference? Backend(YamlMap map, string? routeNamespace)
    {
        var group = map.String("group") ?? "";
        var kind = map.String("kind") ?? "Service";
        var name = map.Name("name", DnsNames.IsRfc1035Label, DnsNames.Rfc1035Rule);
        var ns = map.Get("namespace") is null ? routeNamespace : map.Name("namespace", DnsNames.IsLabel, DnsNames.LabelRule);
        var port = RouteFieldRules.Int(map, "port", 1, 65535, "port");
        if (kind != "Service" || group.Length != 0)
        {
            map.Reader.Error(map.Get("kind") ?? map.Get("group") ?? map.Node, map.PathOf(map.Get("kind") is null ? "group" : "kind"),
                $"unsupported backend '{(group.Length == 0 ? "core" : group)}/{kind}' (only kind Service with group \"\" is supported)");
            return null;
        }
        if (map.Get("port") is null)
        {
            map.Missing("port");
            return null;
        }
        if (name is null || ns is null || port is null) return null;
        return new BackendReference { Group = group, Kind = kind, Name = name, Namespace = ns, Port = port };
    }
}

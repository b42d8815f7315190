using System.Collections.Immutable;
using System.Net;
using YamlDotNet.RepresentationModel;

namespace Ambient.Config;

/// <summary>
/// Cross-object validation (duplicate uids/addresses/hostnames/VIPs/policies, references between workloads, services
/// and waypoints) and assembly of the final <see cref="MeshConfig"/>.
/// </summary>
internal static class ConfigLinker
{
    public static MeshConfig? Link(
        ConfigReader reader,
        string trustDomain,
        List<ServiceDraft> services,
        List<WorkloadDraft> workloads,
        List<ParsedObject<AuthorizationPolicy>> authorizationPolicies,
        List<ParsedObject<PeerAuthentication>> peerAuthentications,
        long generation)
    {
        var servicesByKey = new Dictionary<string, ServiceDraft>(StringComparer.Ordinal);
        var servicesByName = new Dictionary<NamespacedName, ServiceDraft>();
        var vips = new Dictionary<IPAddress, ServiceDraft>();
        foreach (var draft in services)
        {
            var service = draft.Service;
            if (!servicesByKey.TryAdd(service.Key, draft))
            {
                var first = servicesByKey[service.Key];
                reader.Error(draft.HostnameNode, draft.HostnamePath, $"duplicate service '{service.Key}' (namespace/hostname already defined by {Where(first.Path, first.HostnameNode)})");
            }
            var name = new NamespacedName(service.Namespace, service.Name);
            if (!servicesByName.TryAdd(name, draft))
            {
                var first = servicesByName[name];
                reader.Error(draft.NameNode, FieldPath.Field(draft.Path, "name"), $"duplicate service name '{name}' (already defined by {Where(first.Path, first.NameNode)})");
            }
            foreach (var vip in draft.Vips)
            {
                if (!vips.TryAdd(vip.Value, draft))
                {
                    var owner = vips[vip.Value];
                    var firstVip = owner.Vips.First(v => v.Value.Equals(vip.Value));
                    reader.Error(vip.Node, vip.Path, owner == draft
                        ? $"duplicate VIP {vip.Value} (already listed at line {firstVip.Node.Start.Line})"
                        : $"VIP {vip.Value} is already used by service '{owner.Service.Key}' ({Where(firstVip.Path, firstVip.Node)})");
                }
            }
        }

        foreach (var draft in services)
        {
            CheckWaypoint(reader, draft.Waypoint, servicesByName);
        }

        var uids = new Dictionary<string, WorkloadDraft>(StringComparer.Ordinal);
        var addresses = new Dictionary<(string Network, IPAddress Address), Located<IPAddress>>();
        foreach (var draft in workloads)
        {
            var workload = draft.Workload;
            if (!uids.TryAdd(workload.Uid, draft))
            {
                var first = uids[workload.Uid];
                reader.Error(draft.UidNode, draft.UidPath, $"duplicate workload uid '{workload.Uid}' (already used by {Where(first.Path, first.UidNode)})");
            }
            foreach (var address in draft.Addresses)
            {
                if (!addresses.TryAdd((workload.Network, address.Value), address))
                {
                    var first = addresses[(workload.Network, address.Value)];
                    var network = workload.Network.Length == 0 ? "" : $" in network '{workload.Network}'";
                    reader.Error(address.Node, address.Path, $"address {address.Value}{network} is already used by {Where(first.Path, first.Node)}");
                }
            }
            CheckWaypoint(reader, draft.Waypoint, servicesByName);
            draft.Workload = workload with { Services = ResolveServiceRefs(reader, draft, servicesByKey, servicesByName) };
        }

        CheckDuplicates(reader, authorizationPolicies, p => p.Key, "AuthorizationPolicy");
        CheckDuplicates(reader, peerAuthentications, p => p.Key, "PeerAuthentication");
        CheckNamespaceWidePeerAuthentications(reader, peerAuthentications);

        if (reader.Errors.Count > 0) return null;
        return new MeshConfig
        {
            TrustDomain = trustDomain,
            Workloads = [.. workloads.Select(w => w.Workload)],
            Services = [.. services.Select(s => s.Service)],
            AuthorizationPolicies = [.. authorizationPolicies.Select(p => p.Value)],
            PeerAuthentications = [.. peerAuthentications.Select(p => p.Value)],
            Generation = generation,
            Source = reader.File,
        };
    }

    private static string Where(string path, YamlNode node) => $"{path} at line {node.Start.Line}";

    private static void CheckWaypoint(ConfigReader reader, Located<NamespacedName>? waypoint, Dictionary<NamespacedName, ServiceDraft> servicesByName)
    {
        if (waypoint is not { } reference || servicesByName.ContainsKey(reference.Value)) return;
        var suggestion = Suggestions.Closest(reference.Value.ToString(), servicesByName.Keys.Select(k => k.ToString()));
        reader.Error(reference.Node, reference.Path, $"waypoint '{reference.Value}' is not a service defined in this file"
            + (suggestion is null ? "" : $" (did you mean '{suggestion}'?)"));
    }

    private static ImmutableDictionary<string, ImmutableDictionary<int, int>> ResolveServiceRefs(
        ConfigReader reader, WorkloadDraft draft,
        Dictionary<string, ServiceDraft> servicesByKey, Dictionary<NamespacedName, ServiceDraft> servicesByName)
    {
        var result = ImmutableDictionary.CreateBuilder<string, ImmutableDictionary<int, int>>(StringComparer.Ordinal);
        var seenFrom = new Dictionary<string, ServiceRefDraft>(StringComparer.Ordinal);
        foreach (var reference in draft.ServiceRefs)
        {
            if (!servicesByKey.TryGetValue($"{reference.Namespace}/{reference.HostnameOrName}", out var target)
                && !servicesByName.TryGetValue(new NamespacedName(reference.Namespace, reference.HostnameOrName), out target))
            {
                var candidates = servicesByKey.Keys.Concat(servicesByName.Keys.Select(k => k.ToString()));
                var suggestion = Suggestions.Closest(reference.RawKey, candidates);
                reader.Error(reference.KeyNode, reference.Path, $"unknown service '{reference.RawKey}'"
                    + (suggestion is null ? " (no service with that namespace/hostname or namespace/name is defined)" : $" (did you mean '{suggestion}'?)"));
                continue;
            }
            var service = target.Service;
            if (!seenFrom.TryAdd(service.Key, reference))
            {
                reader.Error(reference.KeyNode, reference.Path, $"service '{service.Key}' is listed twice (also as '{seenFrom[service.Key].RawKey}' at line {seenFrom[service.Key].KeyNode.Start.Line})");
                continue;
            }
            var ports = ImmutableDictionary.CreateBuilder<int, int>();
            foreach (var port in reference.Ports)
            {
                if (!service.Ports.ContainsKey(port.ServicePort))
                {
                    var known = service.Ports.IsEmpty ? "it has no ports" : $"its ports are {string.Join(", ", service.Ports.Keys.Order())}";
                    reader.Error(port.Node, port.Path, $"service '{service.Key}' has no port {port.ServicePort} ({known})");
                    continue;
                }
                ports[port.ServicePort] = port.TargetPort;
            }
            result[service.Key] = ports.ToImmutable();
        }
        return result.ToImmutable();
    }

    private static void CheckDuplicates<T>(ConfigReader reader, List<ParsedObject<T>> objects, Func<T, string> key, string kind)
    {
        var seen = new Dictionary<string, ParsedObject<T>>(StringComparer.Ordinal);
        foreach (var parsed in objects)
        {
            var k = key(parsed.Value);
            if (!seen.TryAdd(k, parsed))
            {
                var first = seen[k];
                reader.Error(parsed.NameNode, FieldPath.Field(FieldPath.Field(parsed.Path, "metadata"), "name"),
                    $"duplicate {kind} '{k}' (already defined by {Where(first.Path, first.NameNode)})");
            }
        }
    }

    /// <summary>
    /// Istio honours only the oldest namespace-wide (or mesh-wide) PeerAuthentication per namespace; a file has no
    /// creation order worth relying on, so more than one is an error.
    /// </summary>
    private static void CheckNamespaceWidePeerAuthentications(ConfigReader reader, List<ParsedObject<PeerAuthentication>> objects)
    {
        var seen = new Dictionary<string, ParsedObject<PeerAuthentication>>(StringComparer.Ordinal);
        foreach (var parsed in objects)
        {
            if (parsed.Value.Selector is { MatchLabels.IsEmpty: false }) continue;
            if (!seen.TryAdd(parsed.Value.Namespace, parsed))
            {
                var first = seen[parsed.Value.Namespace];
                var scope = parsed.Value.Namespace == MeshConfig.RootNamespace ? "mesh-wide" : "namespace-wide";
                reader.Error(parsed.NameNode, FieldPath.Field(FieldPath.Field(parsed.Path, "metadata"), "name"),
                    $"more than one {scope} PeerAuthentication (no selector) in namespace '{parsed.Value.Namespace}': '{first.Value.Key}' ({Where(first.Path, first.NameNode)}) already is one");
            }
        }
    }
}

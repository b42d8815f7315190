using System.Collections.Immutable;
using YamlDotNet.RepresentationModel;

namespace Ambient.Config;

/// <summary>Parses the top-level <c>workloads:</c> list into <see cref="WorkloadDraft"/>s.</summary>
internal static class WorkloadParser
{
    private static readonly string[] Fields =
        ["uid", "name", "namespace", "serviceAccount", "addresses", "node", "network", "locality", "labels", "protocol", "waypoint", "services"];

    private static readonly string[] LocalityFields = ["region", "zone", "subzone"];

    private static readonly (string, WorkloadProtocol)[] Protocols =
        [("HBONE", WorkloadProtocol.Hbone), ("TCP", WorkloadProtocol.Tcp)];

    public static List<WorkloadDraft> ParseAll(YamlMap top, string trustDomain)
    {
        var drafts = new List<WorkloadDraft>();
        foreach (var (item, path, index) in top.List("workloads"))
        {
            var map = top.Reader.Map(item, path, Fields);
            if (map is null) continue;
            var draft = Parse(map, path, index, trustDomain);
            if (draft is not null) drafts.Add(draft);
        }
        return drafts;
    }

    private static WorkloadDraft? Parse(YamlMap map, string path, int index, string trustDomain)
    {
        var reader = map.Reader;
        var name = map.Name("name", DnsNames.IsSubdomain, DnsNames.SubdomainRule);
        var ns = map.Name("namespace", DnsNames.IsLabel, DnsNames.LabelRule);
        var uid = map.String("uid");
        if (uid is { Length: 0 })
        {
            reader.Error(map.Get("uid")!, map.PathOf("uid"), "uid must not be empty (omit it to default to \"<namespace>/<name>\")");
            uid = null;
        }
        var serviceAccount = map.Name("serviceAccount", DnsNames.IsSubdomain, DnsNames.SubdomainRule, required: false) ?? "default";
        var node = map.String("node") ?? "local";
        if (node.Length == 0)
        {
            reader.Error(map.Get("node")!, map.PathOf("node"), "node must not be empty (omit it to default to \"local\")");
        }
        var network = map.String("network") ?? "";
        var locality = ParseLocality(map);
        var labels = map.Get("labels") is { } labelsNode ? reader.Labels(labelsNode, map.PathOf("labels")) : ImmutableDictionary<string, string>.Empty;
        var protocol = map.Get("protocol") is { } protocolNode
            ? reader.Enum(protocolNode, map.PathOf("protocol"), "protocol", Protocols) ?? WorkloadProtocol.Hbone
            : WorkloadProtocol.Hbone;

        var draftAddresses = new List<Located<System.Net.IPAddress>>();
        var addressesNode = map.Get("addresses");
        if (addressesNode is null)
        {
            map.Missing("addresses");
        }
        else if (addressesNode is YamlSequenceNode { Children.Count: 0 })
        {
            reader.Error(addressesNode, map.PathOf("addresses"), "at least one address is required");
        }
        else
        {
            foreach (var (item, itemPath, _) in reader.Items(addressesNode, map.PathOf("addresses")))
            {
                var text = reader.Scalar(item, itemPath, "an IP address");
                if (text is null) continue;
                if (!IpText.TryParseAddress(text, out var ip))
                {
                    reader.Error(item, itemPath, $"'{text}' is not an IP address");
                    continue;
                }
                draftAddresses.Add(new(IpText.Normalize(ip), item, itemPath));
            }
        }

        var waypoint = ReferenceParser.Parse(map, "waypoint", ns);
        var serviceRefs = ParseServiceRefs(map);

        if (name is null || ns is null) return null;
        var draft = new WorkloadDraft
        {
            Index = index,
            Path = path,
            UidNode = map.Get("uid") ?? map.Get("name")!,
            UidPath = map.PathOf(map.Get("uid") is null ? "name" : "uid"),
            Waypoint = waypoint,
            Workload = new Workload
            {
                Uid = uid ?? $"{ns}/{name}",
                Name = name,
                Namespace = ns,
                ServiceAccount = serviceAccount,
                TrustDomain = trustDomain,
                Addresses = [.. draftAddresses.Select(a => a.Value)],
                Node = node,
                Network = network,
                Locality = locality,
                Labels = labels,
                Protocol = protocol,
                Waypoint = waypoint?.Value,
                // Istio's label on a waypoint's pods, read the same way in a file as from the API.
                IsWaypointProxy = labels.TryGetValue(Discovery.Kubernetes.IstioLabels.GatewayManaged, out var managed)
                    && managed == Discovery.Kubernetes.IstioLabels.GatewayManagedMesh,
            },
        };
        draft.Addresses.AddRange(draftAddresses);
        draft.ServiceRefs.AddRange(serviceRefs);
        return draft;
    }

    private static Locality ParseLocality(YamlMap map)
    {
        var node = map.Get("locality");
        if (node is null) return Locality.Empty;
        var reader = map.Reader;
        var path = map.PathOf("locality");
        if (node is YamlMappingNode)
        {
            var sub = reader.Map(node, path, LocalityFields)!;
            var parts = LocalityFields.Select(f => sub.String(f) ?? "").ToArray();
            foreach (var (field, value) in LocalityFields.Zip(parts))
            {
                if (value.Contains('/')) reader.Error(sub.Get(field)!, sub.PathOf(field), $"'{value}' must not contain '/'");
            }
            return new Locality(parts[0], parts[1], parts[2]);
        }
        var text = reader.Scalar(node, path, "a locality (\"region/zone/subzone\")");
        if (text is null) return Locality.Empty;
        var locality = Locality.Parse(text);
        if (locality is null)
        {
            reader.Error(node, path, $"'{text}' is not a valid locality (expected \"region/zone/subzone\", at most three parts)");
            return Locality.Empty;
        }
        return locality;
    }

    private static List<ServiceRefDraft> ParseServiceRefs(YamlMap map)
    {
        var refs = new List<ServiceRefDraft>();
        var node = map.Get("services");
        if (node is null) return refs;
        var reader = map.Reader;
        foreach (var (keyNode, key, valueNode, entryPath) in reader.Entries(node, map.PathOf("services")))
        {
            var slash = key.IndexOf('/');
            if (slash <= 0 || slash == key.Length - 1)
            {
                reader.Error(keyNode, entryPath, $"service reference '{key}' must be \"<namespace>/<hostname>\" (or \"<namespace>/<service name>\")");
                continue;
            }
            var ports = new List<ServicePortDraft>();
            if (!ConfigReader.IsNull(valueNode))
            {
                foreach (var (portKeyNode, portKey, targetNode, portPath) in reader.Entries(valueNode, entryPath))
                {
                    var servicePort = reader.ParseInt(portKeyNode, portPath, portKey, 1, 65535, "service port");
                    var targetPort = ConfigReader.IsNull(targetNode) ? 0 : reader.Int(targetNode, portPath, 0, 65535, "target port");
                    if (servicePort is null || targetPort is null) continue;
                    ports.Add(new ServicePortDraft(servicePort.Value, targetPort.Value, portKeyNode, portPath));
                }
            }
            refs.Add(new ServiceRefDraft(key[..slash], key[(slash + 1)..], key, keyNode, entryPath, ports));
        }
        return refs;
    }
}

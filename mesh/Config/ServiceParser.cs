using System.Collections.Immutable;

namespace Ambient.Config;

/// <summary>Parses the top-level <c>services:</c> list into <see cref="ServiceDraft"/>s.</summary>
internal static class ServiceParser
{
    private static readonly string[] Fields =
        ["name", "namespace", "hostname", "vips", "ports", "waypoint", "subjectAltNames", "labels", "selector"];

    public static List<ServiceDraft> ParseAll(YamlMap top)
    {
        var drafts = new List<ServiceDraft>();
        foreach (var (item, path, index) in top.List("services"))
        {
            var map = top.Reader.Map(item, path, Fields);
            if (map is null) continue;
            var draft = Parse(map, path, index);
            if (draft is not null) drafts.Add(draft);
        }
        return drafts;
    }

    private static ServiceDraft? Parse(YamlMap map, string path, int index)
    {
        var reader = map.Reader;
        var name = map.Name("name", DnsNames.IsRfc1035Label, DnsNames.Rfc1035Rule);
        var ns = map.Name("namespace", DnsNames.IsLabel, DnsNames.LabelRule);
        var hostname = map.Name("hostname", DnsNames.IsSubdomain, DnsNames.SubdomainRule, required: false);
        var hostnameInvalid = hostname is null && map.Get("hostname") is not null;

        var vips = new List<Located<System.Net.IPAddress>>();
        foreach (var (item, itemPath, _) in map.List("vips"))
        {
            var text = reader.Scalar(item, itemPath, "an IP address");
            if (text is null) continue;
            if (!IpText.TryParseAddress(text, out var ip))
            {
                reader.Error(item, itemPath, $"'{text}' is not an IP address");
                continue;
            }
            vips.Add(new(IpText.Normalize(ip), item, itemPath));
        }

        var ports = ImmutableDictionary.CreateBuilder<int, int>();
        if (map.Get("ports") is { } portsNode)
        {
            foreach (var (keyNode, key, valueNode, portPath) in reader.Entries(portsNode, map.PathOf("ports")))
            {
                var servicePort = reader.ParseInt(keyNode, portPath, key, 1, 65535, "service port");
                var targetPort = ConfigReader.IsNull(valueNode) ? 0 : reader.Int(valueNode, portPath, 0, 65535, "target port");
                if (servicePort is null || targetPort is null) continue;
                ports[servicePort.Value] = targetPort.Value == 0 ? servicePort.Value : targetPort.Value;
            }
        }

        var waypoint = ReferenceParser.Parse(map, "waypoint", ns);
        var subjectAltNames = map.Strings("subjectAltNames");
        var labels = map.Get("labels") is { } labelsNode ? reader.Labels(labelsNode, map.PathOf("labels")) : ImmutableDictionary<string, string>.Empty;
        ImmutableDictionary<string, string>? selector = null;
        if (map.Get("selector") is { } selectorNode)
        {
            selector = reader.Labels(selectorNode, map.PathOf("selector"));
            if (selector.IsEmpty) selector = null; // as in Kubernetes: an empty selector selects nothing
        }

        if (name is null || ns is null || hostnameInvalid) return null;
        var draft = new ServiceDraft
        {
            Index = index,
            Path = path,
            NameNode = map.Get("name")!,
            HostnameNode = map.Get("hostname") ?? map.Get("name")!,
            HostnamePath = map.PathOf(map.Get("hostname") is null ? "name" : "hostname"),
            Waypoint = waypoint,
            Service = new Service
            {
                Name = name,
                Namespace = ns,
                Hostname = hostname ?? Service.DefaultHostname(name, ns),
                Vips = [.. vips.Select(v => v.Value)],
                Ports = ports.ToImmutable(),
                Waypoint = waypoint?.Value,
                SubjectAltNames = subjectAltNames,
                Labels = labels,
                Selector = selector,
            },
        };
        draft.Vips.AddRange(vips);
        return draft;
    }
}

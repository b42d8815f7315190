using System.Collections.Immutable;
using System.Globalization;
using System.Net;
using Ambient.Config;

namespace Ambient.Discovery.Kubernetes;

/// <summary>One TCP port of a Service: <see cref="TargetPort"/> is set for numeric target ports, <see cref="TargetName"/> for named ones.</summary>
internal sealed record ServicePortInfo(string Name, int Port, int? TargetPort, string? TargetName);

/// <summary>A Service read from the API; <see cref="Service"/> still lacks the waypoint and the resolution of named target ports.</summary>
internal sealed record ServiceInfo(CachedObject Source, Service Service, ImmutableArray<ServicePortInfo> Ports)
{
    public bool IsWaypoint => Service.Labels.TryGetValue(IstioLabels.GatewayManaged, out var v) && v == IstioLabels.GatewayManagedMesh;
}

/// <summary>
/// Services → mesh services: ClusterIP(s) become VIPs (none for headless services), TCP ports map port → targetPort,
/// the hostname is <c>name.namespace.svc.&lt;cluster domain&gt;</c> and the selector is kept. ExternalName services
/// are DNS aliases, not proxied addresses, and are skipped.
/// </summary>
internal static class ServiceMapping
{
    public static ServiceInfo? Read(CachedObject service, string clusterDomain, ObjectProblems problems)
    {
        var o = service.Object;
        var spec = JsonRead.Get(o, "spec") ?? default;
        var metadata = JsonRead.Get(o, "metadata") ?? default;
        var type = JsonRead.String(spec, "type", "spec", problems) ?? "ClusterIP";
        if (type == "ExternalName") return null;

        var vips = ImmutableArray.CreateBuilder<IPAddress>();
        var listed = false;
        foreach (var (item, path) in JsonRead.Items(spec, "clusterIPs", "spec", problems))
        {
            listed = true;
            if (item.ValueKind == System.Text.Json.JsonValueKind.String) AddVip(item.GetString(), path, vips, problems);
            else problems.Add(path, $"expected an IP address, got {JsonRead.Describe(item)}");
        }
        if (!listed) AddVip(JsonRead.String(spec, "clusterIP", "spec", problems), "spec.clusterIP", vips, problems);

        var ports = ImmutableArray.CreateBuilder<ServicePortInfo>();
        var seenPorts = new HashSet<int>();
        foreach (var (item, path) in JsonRead.Items(spec, "ports", "spec", problems))
        {
            var protocol = JsonRead.String(item, "protocol", path, problems) ?? "TCP";
            var name = JsonRead.String(item, "name", path, problems) ?? "";
            var port = JsonRead.Int(item, "port", path, 1, 65535, problems);
            if (port is null)
            {
                if (JsonRead.Get(item, "port") is null) problems.Add(JsonRead.Join(path, "port"), "missing required field 'port'");
                continue;
            }
            int? target = port;
            string? targetName = null;
            if (JsonRead.Get(item, "targetPort") is { } targetNode)
            {
                switch (targetNode.ValueKind)
                {
                    case System.Text.Json.JsonValueKind.Number:
                        target = JsonRead.Int(item, "targetPort", path, 1, 65535, problems);
                        break;
                    case System.Text.Json.JsonValueKind.String:
                        var text = targetNode.GetString()!;
                        if (text.Length > 0 && text.All(char.IsAsciiDigit) && int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var numeric) && numeric is >= 1 and <= 65535)
                            target = numeric;
                        else if (text.Length > 0)
                            (target, targetName) = (null, text);
                        break;
                    default:
                        problems.Add(JsonRead.Join(path, "targetPort"), $"expected a port number or name, got {JsonRead.Describe(targetNode)}");
                        break;
                }
            }
            if (protocol != "TCP") continue; // UDP/SCTP are not carried by the mesh
            if (!seenPorts.Add(port.Value))
            {
                problems.Add(JsonRead.Join(path, "port"), $"port {port} is listed twice");
                continue;
            }
            ports.Add(new ServicePortInfo(name, port.Value, target, targetName));
        }

        var labels = JsonRead.StringMap(metadata, "labels", "metadata", problems) ?? ImmutableDictionary<string, string>.Empty;
        var selector = JsonRead.StringMap(spec, "selector", "spec", problems);
        if (selector is { IsEmpty: true }) selector = null; // as in Kubernetes: an empty selector selects nothing

        if (problems.Any) return null;
        return new ServiceInfo(service, new Service
        {
            Name = service.Name,
            Namespace = service.Namespace,
            Hostname = $"{service.Name}.{service.Namespace}.svc.{clusterDomain}",
            Vips = vips.ToImmutable(),
            Labels = labels,
            Selector = selector,
        }, ports.ToImmutable());
    }

    private static void AddVip(string? text, string path, ImmutableArray<IPAddress>.Builder vips, ObjectProblems problems)
    {
        if (string.IsNullOrEmpty(text) || text == "None") return;
        if (!IpText.TryParseAddress(text, out var ip)) problems.Add(path, $"'{text}' is not an IP address");
        else if (!vips.Contains(IpText.Normalize(ip))) vips.Add(IpText.Normalize(ip));
    }
}

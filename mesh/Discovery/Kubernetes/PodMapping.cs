using System.Collections.Immutable;
using System.Globalization;
using System.Net;
using System.Text.Json;
using Ambient.Config;

namespace Ambient.Discovery.Kubernetes;

/// <summary>A running pod read from the API, before namespace-dependent decisions (protocol, waypoint, services).</summary>
internal sealed record PodInfo(
    CachedObject Source,
    string Uid,
    string ServiceAccount,
    string Node,
    ImmutableArray<IPAddress> Addresses,
    ImmutableDictionary<string, string> Labels,
    ImmutableDictionary<string, int> NamedPorts,
    DateTimeOffset Created)
{
    public string Namespace => Source.Namespace;
    public string Name => Source.Name;

    /// <summary>A waypoint's own pod (Istio labels what it deploys for a waypoint).</summary>
    public bool IsWaypoint => Labels.TryGetValue(IstioLabels.GatewayManaged, out var v) && v == IstioLabels.GatewayManagedMesh;
}

/// <summary>
/// Pods → workloads. Only pods that are <c>Running</c> with an IP become workloads (pending, finished and host-network
/// pods are skipped: a host-network pod's address is its node's, shared with every other such pod).
/// </summary>
internal static class PodMapping
{
    public static PodInfo? Read(CachedObject pod, ObjectProblems problems)
    {
        var o = pod.Object;
        var spec = JsonRead.Get(o, "spec") ?? default;
        var status = JsonRead.Get(o, "status") ?? default;
        var metadata = JsonRead.Get(o, "metadata") ?? default;

        var phase = JsonRead.String(status, "phase", "status", problems);
        if (phase != "Running") return null;
        if (JsonRead.Bool(spec, "hostNetwork", "spec", problems) == true) return null;

        var addresses = ImmutableArray.CreateBuilder<IPAddress>();
        var seen = new HashSet<IPAddress>();
        var listed = false;
        foreach (var (item, path) in JsonRead.Items(status, "podIPs", "status", problems))
        {
            listed = true;
            var text = JsonRead.String(item, "ip", path, problems);
            if (text is null) continue;
            if (!IpText.TryParseAddress(text, out var ip)) problems.Add(JsonRead.Join(path, "ip"), $"'{text}' is not an IP address");
            else if (seen.Add(IpText.Normalize(ip))) addresses.Add(IpText.Normalize(ip));
        }
        if (!listed && JsonRead.String(status, "podIP", "status", problems) is { Length: > 0 } single)
        {
            if (!IpText.TryParseAddress(single, out var ip)) problems.Add("status.podIP", $"'{single}' is not an IP address");
            else addresses.Add(IpText.Normalize(ip));
        }

        var labels = JsonRead.StringMap(metadata, "labels", "metadata", problems) ?? ImmutableDictionary<string, string>.Empty;
        var serviceAccount = JsonRead.String(spec, "serviceAccountName", "spec", problems);
        var node = JsonRead.String(spec, "nodeName", "spec", problems) ?? "";
        var uid = JsonRead.String(metadata, "uid", "metadata", problems);
        var created = ReadTimestamp(metadata, problems);
        var namedPorts = ReadNamedPorts(spec, problems);

        if (problems.Any || addresses.Count == 0) return null;
        return new PodInfo(pod, string.IsNullOrEmpty(uid) ? pod.Key : uid, string.IsNullOrEmpty(serviceAccount) ? "default" : serviceAccount,
            node, addresses.ToImmutable(), labels, namedPorts, created);
    }

    /// <summary>Named TCP container ports (<c>spec.containers[].ports[]</c>), for Services whose targetPort is a name.</summary>
    private static ImmutableDictionary<string, int> ReadNamedPorts(JsonElement spec, ObjectProblems problems)
    {
        var ports = ImmutableDictionary.CreateBuilder<string, int>(StringComparer.Ordinal);
        foreach (var (container, containerPath) in JsonRead.Items(spec, "containers", "spec", problems))
        {
            foreach (var (port, portPath) in JsonRead.Items(container, "ports", containerPath, problems))
            {
                var name = JsonRead.String(port, "name", portPath, problems);
                var number = JsonRead.Int(port, "containerPort", portPath, 1, 65535, problems);
                var protocol = JsonRead.String(port, "protocol", portPath, problems) ?? "TCP";
                if (name is { Length: > 0 } && number is { } n && protocol == "TCP") ports.TryAdd(name, n);
            }
        }
        return ports.ToImmutable();
    }

    internal static DateTimeOffset ReadTimestamp(JsonElement metadata, ObjectProblems problems)
    {
        var text = JsonRead.String(metadata, "creationTimestamp", "metadata", problems);
        return text is not null && DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var value)
            ? value
            : DateTimeOffset.MinValue;
    }
}

using System.Collections.Immutable;
using System.Net;
using Ambient.Config;

namespace Ambient.Discovery.Kubernetes;

/// <summary>
/// Istio ambient waypoint selection. A pod, service or namespace labelled <c>istio.io/use-waypoint: NAME</c> (with
/// <c>istio.io/use-waypoint-namespace</c> for another namespace) sends its traffic through the waypoint Gateway NAME;
/// the most specific label wins (pod or service over namespace) and <c>none</c> opts out. The Gateway must be of class
/// <c>istio-waypoint</c>; the waypoint is then addressed through its Service, found from the Gateway's
/// <c>status.addresses</c> (hostname or VIP) or, before the status is written, the Service of the Gateway's name.
/// </summary>
internal sealed class WaypointResolver
{
    private readonly Dictionary<(string Namespace, string Name), NamespacedName?> _waypoints = [];

    /// <param name="gateways">The Gateway objects.</param>
    /// <param name="services">Mapped services, to find each waypoint's Service.</param>
    /// <param name="reject">Receives problems with Gateway objects.</param>
    public WaypointResolver(IEnumerable<CachedObject> gateways, IReadOnlyList<Service> services, Action<CachedObject, ObjectProblems> reject)
    {
        var byHostname = new Dictionary<string, Service>(StringComparer.OrdinalIgnoreCase);
        var byVip = new Dictionary<IPAddress, Service>();
        var byName = new Dictionary<(string, string), Service>();
        foreach (var service in services)
        {
            byHostname.TryAdd(service.Hostname, service);
            foreach (var vip in service.Vips) byVip.TryAdd(vip, service);
            byName.TryAdd((service.Namespace, service.Name), service);
        }

        foreach (var gateway in gateways)
        {
            var problems = new ObjectProblems();
            var o = gateway.Object;
            var className = JsonRead.String(JsonRead.Get(o, "spec") ?? default, "gatewayClassName", "spec", problems);
            if (className != IstioLabels.WaypointGatewayClass)
            {
                if (problems.Any) reject(gateway, problems);
                continue;
            }
            Service? target = null;
            foreach (var (address, path) in JsonRead.Items(JsonRead.Get(o, "status") ?? default, "addresses", "status", problems))
            {
                var type = JsonRead.String(address, "type", path, problems) ?? "IPAddress";
                var value = JsonRead.String(address, "value", path, problems);
                if (value is null || target is not null) continue;
                if (type == "Hostname") byHostname.TryGetValue(value.TrimEnd('.'), out target);
                else if (type == "IPAddress" && IpText.TryParseAddress(value, out var ip)) byVip.TryGetValue(IpText.Normalize(ip), out target);
            }
            if (problems.Any)
            {
                reject(gateway, problems);
                continue;
            }
            target ??= byName.GetValueOrDefault((gateway.Namespace, gateway.Name));
            _waypoints[(gateway.Namespace, gateway.Name)] = target is null ? null : new NamespacedName(target.Namespace, target.Name);
        }
    }

    /// <summary>
    /// The waypoint for an object with <paramref name="labels"/> in <paramref name="objectNamespace"/>, falling back to the
    /// namespace's labels. <paramref name="problem"/> explains a label that names no usable waypoint; <paramref name="label"/>
    /// is the field that chose it (for messages).
    /// </summary>
    public NamespacedName? Resolve(
        ImmutableDictionary<string, string> labels, string objectNamespace, ImmutableDictionary<string, string> namespaceLabels,
        out string? problem, out string? label)
    {
        problem = null;
        label = null;
        ImmutableDictionary<string, string> source;
        if (labels.ContainsKey(IstioLabels.UseWaypoint)) source = labels;
        else if (namespaceLabels.ContainsKey(IstioLabels.UseWaypoint)) source = namespaceLabels;
        else return null;

        var name = source[IstioLabels.UseWaypoint];
        var field = Config.FieldPath.Field("metadata.labels", IstioLabels.UseWaypoint);
        label = ReferenceEquals(source, labels) ? field : $"(namespace {objectNamespace}) {field}";
        if (name.Length == 0 || name == IstioLabels.UseWaypointNone) return null;
        var ns = source.TryGetValue(IstioLabels.UseWaypointNamespace, out var other) && other.Length > 0 ? other : objectNamespace;
        if (!_waypoints.TryGetValue((ns, name), out var waypoint))
        {
            problem = $"waypoint '{ns}/{name}' is not a Gateway of class {IstioLabels.WaypointGatewayClass}; traffic is not sent through a waypoint";
            return null;
        }
        if (waypoint is null)
        {
            problem = $"waypoint Gateway '{ns}/{name}' has no Service yet; traffic is not sent through a waypoint";
        }
        return waypoint;
    }
}

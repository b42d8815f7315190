using System.Collections.Immutable;
using System.Net;
using Ambient.Config;

namespace Ambient.Discovery.Kubernetes;

/// <summary>
/// Which workload serves which service port, i.e. the <see cref="Workload.Services"/> maps, and the final
/// <see cref="Service.Ports"/>:
/// <list type="bullet">
/// <item>every ready endpoint of an EndpointSlice (labelled <c>kubernetes.io/service-name</c>) whose targetRef (or
/// address) is a known pod serves the service ports named like the slice's ports, on the slice's port numbers (the
/// endpoints controller has already resolved named target ports for that pod);</item>
/// <item>for a named targetPort, pods the service selects that have no slice entry yet are resolved through their
/// containerPorts;</item>
/// <item>a service's own port map uses the numeric targetPort, else the first resolution found, else the port itself.</item>
/// </list>
/// The service selector is kept on the service too, so selected pods are endpoints even before a slice lists them.
/// </summary>
internal sealed class EndpointMembership
{
    /// <summary>pod uid → service key → service port → target port.</summary>
    private readonly Dictionary<string, Dictionary<string, Dictionary<int, int>>> _byUid = new(StringComparer.Ordinal);
    private readonly Dictionary<(string ServiceKey, int Port), int> _resolvedNames = [];

    public EndpointMembership(
        IReadOnlyList<ServiceInfo> services, IReadOnlyList<PodInfo> pods, IEnumerable<CachedObject> slices,
        Action<CachedObject, ObjectProblems> reject)
    {
        var servicesByName = services.ToDictionary(s => (s.Service.Namespace, s.Service.Name));
        var podsByUid = new Dictionary<string, PodInfo>(StringComparer.Ordinal);
        var podsByName = new Dictionary<(string, string), PodInfo>();
        var podsByAddress = new Dictionary<IPAddress, PodInfo>();
        foreach (var pod in pods)
        {
            podsByUid.TryAdd(pod.Uid, pod);
            podsByName.TryAdd((pod.Namespace, pod.Name), pod);
            foreach (var address in pod.Addresses) podsByAddress.TryAdd(address, pod);
        }

        foreach (var slice in slices)
        {
            var problems = new ObjectProblems();
            var o = slice.Object;
            var labels = JsonRead.StringMap(JsonRead.Get(o, "metadata") ?? default, "labels", "metadata", problems);
            if (labels?.GetValueOrDefault(IstioLabels.ServiceName) is not { Length: > 0 } serviceName
                || !servicesByName.TryGetValue((slice.Namespace, serviceName), out var service))
            {
                if (problems.Any) reject(slice, problems);
                continue;
            }
            var addressType = JsonRead.String(o, "addressType", "", problems);
            var slicePorts = new List<(string Name, int Port)>();
            foreach (var (item, path) in JsonRead.Items(o, "ports", "", problems))
            {
                var port = JsonRead.Int(item, "port", path, 1, 65535, problems);
                var protocol = JsonRead.String(item, "protocol", path, problems) ?? "TCP";
                if (port is { } p && protocol == "TCP") slicePorts.Add((JsonRead.String(item, "name", path, problems) ?? "", p));
            }
            var members = new List<PodInfo>();
            foreach (var (endpoint, path) in JsonRead.Items(o, "endpoints", "", problems))
            {
                var conditions = JsonRead.Get(endpoint, "conditions") ?? default;
                if (JsonRead.Bool(conditions, "ready", JsonRead.Join(path, "conditions"), problems) == false) continue;
                var pod = FindPod(endpoint, path, slice.Namespace, podsByUid, podsByName, podsByAddress, problems);
                if (pod is not null) members.Add(pod);
            }
            if (problems.Any)
            {
                reject(slice, problems);
                continue;
            }
            if (addressType is not ("IPv4" or "IPv6")) continue; // FQDN slices name hosts, not pods
            foreach (var pod in members)
            {
                var ports = Entry(pod.Uid, service.Service.Key);
                foreach (var servicePort in service.Ports)
                {
                    var match = slicePorts.FindIndex(p => p.Name == servicePort.Name);
                    if (match < 0) continue;
                    ports[servicePort.Port] = slicePorts[match].Port;
                    if (servicePort.TargetName is not null) _resolvedNames.TryAdd((service.Service.Key, servicePort.Port), slicePorts[match].Port);
                }
            }
        }

        foreach (var service in services)
        {
            if (service.Service.Selector is not { } selector || service.Ports.All(p => p.TargetName is null)) continue;
            var matcher = new WorkloadSelector(selector);
            foreach (var pod in pods)
            {
                if (pod.Namespace != service.Service.Namespace || !matcher.Matches(pod.Labels)) continue;
                foreach (var servicePort in service.Ports)
                {
                    if (servicePort.TargetName is not { } name || !pod.NamedPorts.TryGetValue(name, out var number)) continue;
                    Entry(pod.Uid, service.Service.Key).TryAdd(servicePort.Port, number);
                    _resolvedNames.TryAdd((service.Service.Key, servicePort.Port), number);
                }
            }
        }
    }

    /// <summary>The service with its port map resolved.</summary>
    public Service Resolve(ServiceInfo service) => service.Service with
    {
        Ports = service.Ports.ToImmutableDictionary(
            p => p.Port,
            p => p.TargetPort ?? (_resolvedNames.TryGetValue((service.Service.Key, p.Port), out var resolved) ? resolved : p.Port)),
    };

    /// <summary>The <see cref="Workload.Services"/> map of a pod.</summary>
    public ImmutableDictionary<string, ImmutableDictionary<int, int>> ServicesOf(string uid) =>
        _byUid.TryGetValue(uid, out var services)
            ? services.ToImmutableDictionary(kv => kv.Key, kv => kv.Value.ToImmutableDictionary(), StringComparer.Ordinal)
            : ImmutableDictionary<string, ImmutableDictionary<int, int>>.Empty;

    private Dictionary<int, int> Entry(string uid, string serviceKey)
    {
        if (!_byUid.TryGetValue(uid, out var services)) _byUid[uid] = services = new(StringComparer.Ordinal);
        if (!services.TryGetValue(serviceKey, out var ports)) services[serviceKey] = ports = [];
        return ports;
    }

    private static PodInfo? FindPod(
        System.Text.Json.JsonElement endpoint, string path, string sliceNamespace,
        Dictionary<string, PodInfo> byUid, Dictionary<(string, string), PodInfo> byName, Dictionary<IPAddress, PodInfo> byAddress,
        ObjectProblems problems)
    {
        if (JsonRead.Get(endpoint, "targetRef") is { } targetRef)
        {
            var refPath = JsonRead.Join(path, "targetRef");
            var kind = JsonRead.String(targetRef, "kind", refPath, problems);
            if (kind is not (null or "Pod")) return null;
            var uid = JsonRead.String(targetRef, "uid", refPath, problems);
            if (uid is { Length: > 0 } && byUid.TryGetValue(uid, out var byUidPod)) return byUidPod;
            var name = JsonRead.String(targetRef, "name", refPath, problems);
            var ns = JsonRead.String(targetRef, "namespace", refPath, problems) ?? sliceNamespace;
            return name is not null && byName.TryGetValue((ns, name), out var pod) && (uid is not { Length: > 0 } || pod.Uid == uid) ? pod : null;
        }
        foreach (var (item, itemPath) in JsonRead.Items(endpoint, "addresses", path, problems))
        {
            if (item.ValueKind != System.Text.Json.JsonValueKind.String)
            {
                problems.Add(itemPath, $"expected an IP address, got {JsonRead.Describe(item)}");
                continue;
            }
            if (IpText.TryParseAddress(item.GetString()!, out var ip) && byAddress.TryGetValue(IpText.Normalize(ip), out var pod)) return pod;
        }
        return null;
    }
}

using System.Collections.Frozen;
using System.Collections.Immutable;
using System.Net;

namespace Ambient.Config;

/// <summary>
/// An immutable, indexed view of one <see cref="MeshConfig"/> for the data path. All indexes are built once in the
/// constructor (FrozenDictionary), so lookups never lock and never allocate. Readers take
/// <see cref="ConfigStore.Current"/> once per connection and use that snapshot throughout.
/// </summary>
public sealed class MeshSnapshot
{
    private readonly FrozenDictionary<(string Network, IPAddress Address), Workload> _workloadsByAddress;
    private readonly FrozenDictionary<string, Workload> _workloadsByUid;
    private readonly FrozenDictionary<string, ImmutableArray<Workload>> _workloadsByNode;
    private readonly FrozenDictionary<IPAddress, Service> _servicesByVip;
    private readonly FrozenDictionary<(string Namespace, string Hostname), Service> _servicesByKey;
    private readonly FrozenDictionary<string, Service> _servicesByHostname;
    private readonly FrozenDictionary<(string Namespace, string Name), Service> _servicesByName;
    private readonly FrozenDictionary<(string Namespace, string Hostname), ImmutableArray<ServiceEndpoint>> _endpoints;
    private readonly FrozenDictionary<(string Namespace, string Hostname, int Port), ImmutableArray<EndpointTarget>> _endpointsByPort;
    private readonly FrozenDictionary<string, ImmutableArray<(Service Service, ImmutableDictionary<int, int> Ports)>> _servicesByWorkloadUid;
    private readonly FrozenDictionary<string, ImmutableArray<AuthorizationPolicy>> _authorizationByUid;
    private readonly FrozenDictionary<string, ImmutableArray<PeerAuthentication>> _peerAuthenticationByUid;

    public static MeshSnapshot Empty { get; } = new(MeshConfig.Empty);

    /// <summary>Builds the indexes. Tolerates unvalidated configs: on duplicate keys the first object wins.</summary>
    public MeshSnapshot(MeshConfig config)
    {
        Config = config;
        var workloads = config.Workloads;

        var byAddress = new Dictionary<(string, IPAddress), Workload>();
        var byUid = new Dictionary<string, Workload>(StringComparer.Ordinal);
        var byNode = new Dictionary<string, ImmutableArray<Workload>.Builder>(StringComparer.Ordinal);
        foreach (var workload in workloads)
        {
            byUid.TryAdd(workload.Uid, workload);
            foreach (var address in workload.Addresses) byAddress.TryAdd((workload.Network, IpText.Normalize(address)), workload);
            if (!byNode.TryGetValue(workload.Node, out var list)) byNode[workload.Node] = list = ImmutableArray.CreateBuilder<Workload>();
            list.Add(workload);
        }
        _workloadsByAddress = byAddress.ToFrozenDictionary();
        _workloadsByUid = byUid.ToFrozenDictionary(StringComparer.Ordinal);
        _workloadsByNode = byNode.ToFrozenDictionary(kv => kv.Key, kv => kv.Value.ToImmutable(), StringComparer.Ordinal);

        var byVip = new Dictionary<IPAddress, Service>();
        var byKey = new Dictionary<(string, string), Service>(NamespaceHostnameComparer.Instance);
        var byHostname = new Dictionary<string, Service>(StringComparer.OrdinalIgnoreCase);
        var byName = new Dictionary<(string, string), Service>();
        foreach (var service in config.Services)
        {
            foreach (var vip in service.Vips) byVip.TryAdd(IpText.Normalize(vip), service);
            byKey.TryAdd((service.Namespace, service.Hostname), service);
            byHostname.TryAdd(service.Hostname, service);
            byName.TryAdd((service.Namespace, service.Name), service);
        }
        _servicesByVip = byVip.ToFrozenDictionary();
        _servicesByKey = byKey.ToFrozenDictionary(NamespaceHostnameComparer.Instance);
        _servicesByHostname = byHostname.ToFrozenDictionary(StringComparer.OrdinalIgnoreCase);
        _servicesByName = byName.ToFrozenDictionary();

        (_endpoints, _endpointsByPort) = BuildEndpoints(config);
        var servicesOf = new Dictionary<string, ImmutableArray<(Service, ImmutableDictionary<int, int>)>.Builder>(StringComparer.Ordinal);
        foreach (var service in config.Services)
        {
            if (!_endpoints.TryGetValue((service.Namespace, service.Hostname), out var members) || !ReferenceEquals(byKey[(service.Namespace, service.Hostname)], service))
                continue;
            foreach (var member in members)
            {
                if (!servicesOf.TryGetValue(member.Workload.Uid, out var list)) servicesOf[member.Workload.Uid] = list = ImmutableArray.CreateBuilder<(Service, ImmutableDictionary<int, int>)>();
                list.Add((service, member.Ports));
            }
        }
        _servicesByWorkloadUid = servicesOf.ToFrozenDictionary(kv => kv.Key, kv => kv.Value.ToImmutable(), StringComparer.Ordinal);

        var authorization = new Dictionary<string, ImmutableArray<AuthorizationPolicy>>(StringComparer.Ordinal);
        var peerAuthentication = new Dictionary<string, ImmutableArray<PeerAuthentication>>(StringComparer.Ordinal);
        // Each workload only looks at its own namespace's and the root namespace's policies.
        var policiesByNamespace = GroupByNamespace(config.AuthorizationPolicies, p => p.Namespace);
        var peerByNamespace = GroupByNamespace(config.PeerAuthentications, p => p.Namespace);
        foreach (var workload in byUid.Values)
        {
            var scoped = config with
            {
                AuthorizationPolicies = Scoped(policiesByNamespace, workload.Namespace),
                PeerAuthentications = Scoped(peerByNamespace, workload.Namespace),
            };
            authorization[workload.Uid] = ComputePolicies(scoped, workload);
            peerAuthentication[workload.Uid] = ComputePeerAuthentications(scoped, workload);
        }
        _authorizationByUid = authorization.ToFrozenDictionary(StringComparer.Ordinal);
        _peerAuthenticationByUid = peerAuthentication.ToFrozenDictionary(StringComparer.Ordinal);
    }

    public MeshConfig Config { get; }

    public long Generation => Config.Generation;

    public string TrustDomain => Config.TrustDomain;

    /// <summary>The workload owning <paramref name="address"/> in <paramref name="network"/>. IPv4-mapped IPv6 is treated as IPv4.</summary>
    public Workload? WorkloadByAddress(IPAddress address, string network = "") =>
        _workloadsByAddress.GetValueOrDefault((network, IpText.Normalize(address)));

    public Workload? WorkloadByUid(string uid) => _workloadsByUid.GetValueOrDefault(uid);

    /// <summary>Workloads scheduled on <paramref name="node"/>, in file order.</summary>
    public ImmutableArray<Workload> WorkloadsOnNode(string node) =>
        _workloadsByNode.TryGetValue(node, out var list) ? list : [];

    public Service? ServiceByVip(IPAddress vip) => _servicesByVip.GetValueOrDefault(IpText.Normalize(vip));

    /// <summary>The service owning <paramref name="vip"/>, only if it exposes <paramref name="port"/>.</summary>
    public Service? ServiceByVip(IPAddress vip, int port) =>
        ServiceByVip(vip) is { } service && service.Ports.ContainsKey(port) ? service : null;

    /// <summary>A service by hostname (case-insensitive); when several namespaces define the hostname, the first in file order.</summary>
    public Service? ServiceByHostname(string hostname) => _servicesByHostname.GetValueOrDefault(hostname);

    /// <summary>A service by namespace + hostname (hostname case-insensitive).</summary>
    public Service? ServiceByHostname(string @namespace, string hostname) =>
        _servicesByKey.GetValueOrDefault((@namespace, hostname));

    /// <summary>A service by namespace + name (how waypoints are referenced).</summary>
    public Service? ServiceByName(string @namespace, string name) =>
        _servicesByName.GetValueOrDefault((@namespace, name));

    /// <summary>
    /// Endpoints of a service: workloads listing it in their <c>services</c> map, then workloads in its namespace
    /// matched by its <see cref="Service.Selector"/>, in file order, each with its resolved port map.
    /// </summary>
    public ImmutableArray<ServiceEndpoint> EndpointsOf(Service service) =>
        _endpoints.TryGetValue((service.Namespace, service.Hostname), out var list) ? list : [];

    /// <summary>Endpoints for one service port, with the target port to dial on each workload.</summary>
    public ImmutableArray<EndpointTarget> EndpointsOf(Service service, int servicePort) =>
        _endpointsByPort.TryGetValue((service.Namespace, service.Hostname, servicePort), out var list) ? list : [];

    /// <summary>
    /// The first service (config order) that has <paramref name="workload"/> as an endpoint with
    /// <paramref name="targetPort"/> as one of its target ports: what an inbound connection to that port is for.
    /// </summary>
    public Service? ServiceForEndpoint(Workload workload, int targetPort)
    {
        if (!_servicesByWorkloadUid.TryGetValue(workload.Uid, out var services)) return null;
        foreach (var (service, ports) in services)
        {
            foreach (var (_, target) in ports)
            {
                if (target == targetPort) return service;
            }
        }
        return null;
    }

    /// <summary>
    /// Authorization policies that apply to the workload itself, in evaluation-neutral order: root namespace
    /// (<see cref="MeshConfig.RootNamespace"/>) policies first, then the workload's namespace, each in file order.
    /// A policy applies when its selector is absent or matches the workload's labels. Policies with targetRefs
    /// (attached to waypoints/gateways) are not included.
    /// </summary>
    public ImmutableArray<AuthorizationPolicy> PoliciesFor(Workload workload) =>
        _authorizationByUid.TryGetValue(workload.Uid, out var list) && ReferenceEquals(WorkloadByUid(workload.Uid), workload)
            ? list
            : ComputePolicies(Config, workload);

    /// <summary>
    /// PeerAuthentications that apply to the workload, most specific first: selector-matched in its namespace,
    /// namespace-wide, selector-matched in the root namespace, mesh-wide. The effective mode is the first that is not
    /// UNSET (port-level settings of a selector-matched policy take precedence for their port).
    /// </summary>
    public ImmutableArray<PeerAuthentication> PeerAuthenticationsFor(Workload workload) =>
        _peerAuthenticationByUid.TryGetValue(workload.Uid, out var list) && ReferenceEquals(WorkloadByUid(workload.Uid), workload)
            ? list
            : ComputePeerAuthentications(Config, workload);

    private static (FrozenDictionary<(string, string), ImmutableArray<ServiceEndpoint>>,
        FrozenDictionary<(string, string, int), ImmutableArray<EndpointTarget>>) BuildEndpoints(MeshConfig config)
    {
        var endpoints = new Dictionary<(string, string), ImmutableArray<ServiceEndpoint>>();
        var byPort = new Dictionary<(string, string, int), ImmutableArray<EndpointTarget>>();
        // One pass over the workloads (not one per service: 10k services × 50k workloads is minutes): who names
        // which service, and who lives in which namespace (for selectors). Lists keep config order.
        var named = new Dictionary<string, List<Workload>>(StringComparer.Ordinal);
        var inNamespace = new Dictionary<string, List<Workload>>(StringComparer.Ordinal);
        foreach (var workload in config.Workloads)
        {
            foreach (var serviceKey in workload.Services.Keys)
            {
                if (!named.TryGetValue(serviceKey, out var members)) named[serviceKey] = members = new List<Workload>();
                members.Add(workload);
            }
            if (!inNamespace.TryGetValue(workload.Namespace, out var local)) inNamespace[workload.Namespace] = local = new List<Workload>();
            local.Add(workload);
        }
        foreach (var service in config.Services)
        {
            var key = (service.Namespace, service.Hostname);
            if (endpoints.ContainsKey(key)) continue;
            var list = ImmutableArray.CreateBuilder<ServiceEndpoint>();
            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (var workload in named.TryGetValue(service.Key, out var members) ? members : [])
            {
                if (!workload.Services.TryGetValue(service.Key, out var overrides) || !seen.Add(workload.Uid)) continue;
                var ports = service.Ports.ToBuilder();
                foreach (var (servicePort, targetPort) in overrides)
                {
                    if (targetPort != 0) ports[servicePort] = targetPort;
                }
                list.Add(new ServiceEndpoint(workload, ports.ToImmutable()));
            }
            if (service.Selector is { IsEmpty: false } selector)
            {
                var matcher = new WorkloadSelector(selector);
                foreach (var workload in inNamespace.TryGetValue(service.Namespace, out var local) ? local : [])
                {
                    if (!matcher.Matches(workload.Labels) || !seen.Add(workload.Uid)) continue;
                    list.Add(new ServiceEndpoint(workload, service.Ports));
                }
            }
            var all = list.ToImmutable();
            endpoints[key] = all;
            foreach (var servicePort in service.Ports.Keys)
            {
                byPort[(service.Namespace, service.Hostname, servicePort)] =
                    [.. all.Select(e => new EndpointTarget(e.Workload, e.Ports[servicePort]))];
            }
        }
        return (endpoints.ToFrozenDictionary(), byPort.ToFrozenDictionary());
    }

    private static Dictionary<string, ImmutableArray<T>> GroupByNamespace<T>(ImmutableArray<T> items, Func<T, string> ns)
    {
        var groups = new Dictionary<string, ImmutableArray<T>.Builder>(StringComparer.Ordinal);
        foreach (var item in items)
        {
            if (!groups.TryGetValue(ns(item), out var g)) groups[ns(item)] = g = ImmutableArray.CreateBuilder<T>();
            g.Add(item);
        }
        var result = new Dictionary<string, ImmutableArray<T>>(StringComparer.Ordinal);
        foreach (var (k, g) in groups) result[k] = g.ToImmutable();
        return result;
    }

    /// <summary>The root namespace's items then the namespace's own, in config order within each.</summary>
    private static ImmutableArray<T> Scoped<T>(Dictionary<string, ImmutableArray<T>> byNamespace, string @namespace)
    {
        var root = byNamespace.TryGetValue(MeshConfig.RootNamespace, out var r) ? r : [];
        if (@namespace == MeshConfig.RootNamespace || !byNamespace.TryGetValue(@namespace, out var own))
            return root;
        return root.IsEmpty ? own : root.AddRange(own);
    }

    private static bool InScope(string policyNamespace, WorkloadSelector? selector, Workload workload) =>
        (policyNamespace == MeshConfig.RootNamespace || policyNamespace == workload.Namespace)
        && (selector is null || selector.Matches(workload.Labels));

    private static ImmutableArray<AuthorizationPolicy> ComputePolicies(MeshConfig config, Workload workload)
    {
        var applicable = config.AuthorizationPolicies
            .Where(p => p.TargetRefs.IsEmpty && InScope(p.Namespace, p.Selector, workload));
        return [.. applicable.Where(p => p.Namespace == MeshConfig.RootNamespace), .. applicable.Where(p => p.Namespace != MeshConfig.RootNamespace)];
    }

    private static ImmutableArray<PeerAuthentication> ComputePeerAuthentications(MeshConfig config, Workload workload)
    {
        static int Rank(PeerAuthentication p, Workload w)
        {
            var specific = p.Selector is { MatchLabels.IsEmpty: false };
            var local = p.Namespace == w.Namespace;
            return (local, specific) switch { (true, true) => 0, (true, false) => 1, (false, true) => 2, _ => 3 };
        }
        return [.. config.PeerAuthentications
            .Where(p => InScope(p.Namespace, p.Selector, workload))
            .Select((p, i) => (p, i))
            .OrderBy(x => Rank(x.p, workload)).ThenBy(x => x.i)
            .Select(x => x.p)];
    }

    /// <summary>(namespace, hostname) keys: namespace ordinal, hostname case-insensitive (DNS).</summary>
    private sealed class NamespaceHostnameComparer : IEqualityComparer<(string Namespace, string Hostname)>
    {
        public static readonly NamespaceHostnameComparer Instance = new();

        public bool Equals((string Namespace, string Hostname) x, (string Namespace, string Hostname) y) =>
            string.Equals(x.Namespace, y.Namespace, StringComparison.Ordinal)
            && string.Equals(x.Hostname, y.Hostname, StringComparison.OrdinalIgnoreCase);

        public int GetHashCode((string Namespace, string Hostname) key) =>
            HashCode.Combine(StringComparer.Ordinal.GetHashCode(key.Namespace), StringComparer.OrdinalIgnoreCase.GetHashCode(key.Hostname));
    }
}

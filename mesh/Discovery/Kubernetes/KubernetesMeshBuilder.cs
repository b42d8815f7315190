using System.Collections.Immutable;
using System.Net;
using Ambient.Config;

namespace Ambient.Discovery.Kubernetes;

/// <summary>The config built from one copy of the caches, and the objects left out (or applied with a caveat).</summary>
internal sealed record KubernetesBuildResult(MeshConfig Config, ImmutableArray<ObjectRejection> Problems)
{
    public int RejectedObjects => Problems.Where(p => p.Rejected).Select(p => (p.Kind, p.Namespace, p.Name)).Distinct().Count();
}

/// <summary>
/// Maps Kubernetes objects to a <see cref="MeshConfig"/> with Istio ambient semantics. Pure: the same objects give the
/// same config. An object that cannot be mapped (a policy the config parser rejects, a pod with an unparsable IP, ...)
/// is left out alone and reported; everything else still applies.
/// </summary>
internal static class KubernetesMeshBuilder
{
    public static KubernetesBuildResult Build(KubernetesObjects objects, KubernetesSourceOptions options)
    {
        var problems = ImmutableArray.CreateBuilder<ObjectRejection>();
        void Report(string kind, CachedObject o, ObjectProblems p, bool rejected = true)
        {
            foreach (var (field, message) in p.Items) problems.Add(new ObjectRejection(kind, o.Namespace, o.Name, field, message, rejected));
        }

        // Namespaces: only their labels matter (ambient enrolment, namespace-wide waypoint).
        var namespaceLabels = new Dictionary<string, ImmutableDictionary<string, string>>(StringComparer.Ordinal);
        foreach (var ns in objects.Namespaces)
        {
            var p = new ObjectProblems();
            var labels = JsonRead.StringMap(JsonRead.Get(ns.Object, "metadata") ?? default, "labels", "metadata", p);
            if (p.Any) Report(KubernetesResource.Namespaces.Kind, ns, p);
            namespaceLabels[ns.Name] = labels ?? ImmutableDictionary<string, string>.Empty;
        }
        ImmutableDictionary<string, string> LabelsOf(string ns) => namespaceLabels.GetValueOrDefault(ns) ?? ImmutableDictionary<string, string>.Empty;

        var services = new List<ServiceInfo>();
        foreach (var service in objects.Services)
        {
            var p = new ObjectProblems();
            var info = ServiceMapping.Read(service, options.ClusterDomain, p);
            if (p.Any) Report(KubernetesResource.Services.Kind, service, p);
            else if (info is not null) services.Add(info);
        }

        var pods = new List<PodInfo>();
        foreach (var pod in objects.Pods)
        {
            var p = new ObjectProblems();
            var info = PodMapping.Read(pod, p);
            if (p.Any) Report(KubernetesResource.Pods.Kind, pod, p);
            else if (info is not null) pods.Add(info);
        }
        pods = DeduplicateAddresses(pods, options.Network, (pod, p) => Report(KubernetesResource.Pods.Kind, pod.Source, p, rejected: false));

        var waypoints = new WaypointResolver(objects.Gateways, [.. services.Select(s => s.Service)],
            (gateway, p) => Report(KubernetesResource.Gateways.Kind, gateway, p));
        var membership = new EndpointMembership(services, pods, objects.EndpointSlices,
            (slice, p) => Report(KubernetesResource.EndpointSlices.Kind, slice, p));

        var meshServices = ImmutableArray.CreateBuilder<Service>(services.Count);
        foreach (var info in services)
        {
            var service = membership.Resolve(info);
            if (!info.IsWaypoint)
            {
                var waypoint = waypoints.Resolve(service.Labels, service.Namespace, LabelsOf(service.Namespace), out var problem, out var label);
                if (problem is not null) Report(KubernetesResource.Services.Kind, info.Source, Single(label!, problem), rejected: false);
                service = service with { Waypoint = waypoint };
            }
            meshServices.Add(service);
        }

        var workloads = ImmutableArray.CreateBuilder<Workload>(pods.Count);
        foreach (var pod in pods)
        {
            var nsLabels = LabelsOf(pod.Namespace);
            var protocol = ProtocolOf(pod, nsLabels);
            NamespacedName? waypoint = null;
            if (protocol == WorkloadProtocol.Hbone && !pod.IsWaypoint)
            {
                waypoint = waypoints.Resolve(pod.Labels, pod.Namespace, nsLabels, out var problem, out var label);
                if (problem is not null) Report(KubernetesResource.Pods.Kind, pod.Source, Single(label!, problem), rejected: false);
            }
            workloads.Add(new Workload
            {
                Uid = pod.Uid,
                Name = pod.Name,
                Namespace = pod.Namespace,
                ServiceAccount = pod.ServiceAccount,
                TrustDomain = options.TrustDomain,
                Addresses = pod.Addresses,
                Node = pod.Node,
                Network = options.Network,
                Labels = pod.Labels,
                Protocol = protocol,
                Waypoint = waypoint,
                IsWaypointProxy = pod.IsWaypoint,
                Services = membership.ServicesOf(pod.Uid),
            });
        }

        var authorizationPolicies = ImmutableArray.CreateBuilder<AuthorizationPolicy>();
        foreach (var policy in objects.AuthorizationPolicies)
        {
            var p = new ObjectProblems();
            var parsed = PolicyMapping.ReadAuthorizationPolicy(KubernetesResource.AuthorizationPolicies, policy, p);
            if (p.Any || parsed is null) Report(KubernetesResource.AuthorizationPolicies.Kind, policy, p);
            else authorizationPolicies.Add(parsed);
        }

        var peerAuthentications = ReadPeerAuthentications(objects.PeerAuthentications, (o, p) => Report(KubernetesResource.PeerAuthentications.Kind, o, p));

        // Oldest first, as Gateway API and Istio break ties between routes (and "first rule wins") by creation time.
        ImmutableArray<T> L7<T>(ImmutableArray<CachedObject> objects, KubernetesResource resource,
            Func<YamlDotNet.RepresentationModel.YamlNode, string, string, int, Ambient.Config.Routes.ParsedConfigObject<T>> parse) where T : class
        {
            var result = ImmutableArray.CreateBuilder<T>();
            foreach (var o in objects.OrderBy(CreationTime).ThenBy(o => o.Key, StringComparer.Ordinal))
            {
                var p = new ObjectProblems();
                var parsed = PolicyMapping.ReadL7(resource, o, p, parse);
                if (p.Any || parsed is null) Report(resource.Kind, o, p);
                else result.Add(parsed);
            }
            return result.ToImmutable();
        }

        var config = new MeshConfig
        {
            HttpRoutes = L7(objects.HttpRoutes, KubernetesResource.HttpRoutes, Ambient.Config.Routes.RouteConfigParser.ParseHttpRoute),
            GrpcRoutes = L7(objects.GrpcRoutes, KubernetesResource.GrpcRoutes, Ambient.Config.Routes.RouteConfigParser.ParseGrpcRoute),
            DestinationRules = L7(objects.DestinationRules, KubernetesResource.DestinationRules, Ambient.Config.Routes.RouteConfigParser.ParseDestinationRule),
            RequestAuthentications = L7(objects.RequestAuthentications, KubernetesResource.RequestAuthentications, Ambient.Config.Routes.RouteConfigParser.ParseRequestAuthentication),
            TrustDomain = options.TrustDomain,
            Workloads = workloads.ToImmutable(),
            Services = meshServices.ToImmutable(),
            AuthorizationPolicies = authorizationPolicies.ToImmutable(),
            PeerAuthentications = peerAuthentications,
        };
        return new KubernetesBuildResult(config, problems.ToImmutable());
    }

    /// <summary>
    /// HBONE for pods in the ambient mesh: pod label <c>istio.io/dataplane-mode</c> (<c>none</c> out, <c>ambient</c> in)
    /// over the namespace's; a waypoint's own pods always speak HBONE. Everything else is plain TCP.
    /// </summary>
    internal static WorkloadProtocol ProtocolOf(PodInfo pod, ImmutableDictionary<string, string> namespaceLabels)
    {
        if (pod.IsWaypoint) return WorkloadProtocol.Hbone;
        var mode = pod.Labels.GetValueOrDefault(IstioLabels.DataplaneMode) ?? namespaceLabels.GetValueOrDefault(IstioLabels.DataplaneMode);
        return mode == IstioLabels.DataplaneModeAmbient ? WorkloadProtocol.Hbone : WorkloadProtocol.Tcp;
    }

    /// <summary>
    /// Two running pods can briefly report the same IP (a finished pod whose status still shows the address that was
    /// handed to its successor): the newer pod keeps the address, the older loses it, and drops out when none is left.
    /// </summary>
    private static List<PodInfo> DeduplicateAddresses(List<PodInfo> pods, string network, Action<PodInfo, ObjectProblems> warn)
    {
        var owners = new Dictionary<IPAddress, PodInfo>();
        var kept = new Dictionary<PodInfo, ImmutableArray<IPAddress>>(ReferenceEqualityComparer.Instance);
        foreach (var pod in pods.OrderByDescending(p => p.Created).ThenBy(p => p.Source.Key, StringComparer.Ordinal))
        {
            var addresses = ImmutableArray.CreateBuilder<IPAddress>();
            foreach (var address in pod.Addresses)
            {
                if (owners.TryAdd(address, pod))
                {
                    addresses.Add(address);
                    continue;
                }
                var where = network.Length == 0 ? "" : $" in network '{network}'";
                warn(pod, Single("status.podIPs", $"address {address}{where} is also reported by newer pod {owners[address].Source.Key}; it is left to that pod"));
            }
            if (addresses.Count > 0) kept[pod] = addresses.ToImmutable();
        }
        return [.. pods.Where(kept.ContainsKey).Select(p => p.Addresses.Length == kept[p].Length ? p : p with { Addresses = kept[p] })];
    }

    /// <summary>
    /// PeerAuthentications through the config parser; as in Istio, only the oldest namespace-wide (selector-less) one per
    /// namespace applies and later ones are ignored.
    /// </summary>
    private static ImmutableArray<PeerAuthentication> ReadPeerAuthentications(IEnumerable<CachedObject> objects, Action<CachedObject, ObjectProblems> reject)
    {
        var parsed = new List<(CachedObject Source, PeerAuthentication Policy, DateTimeOffset Created)>();
        foreach (var o in objects)
        {
            var p = new ObjectProblems();
            var policy = PolicyMapping.ReadPeerAuthentication(KubernetesResource.PeerAuthentications, o, p);
            if (p.Any || policy is null)
            {
                reject(o, p);
                continue;
            }
            var created = PodMapping.ReadTimestamp(JsonRead.Get(o.Object, "metadata") ?? default, new ObjectProblems());
            parsed.Add((o, policy, created));
        }
        var namespaceWide = new Dictionary<string, (CachedObject Source, PeerAuthentication Policy, DateTimeOffset Created)>(StringComparer.Ordinal);
        foreach (var entry in parsed.Where(e => e.Policy.Selector is not { MatchLabels.IsEmpty: false })
                     .OrderBy(e => e.Created).ThenBy(e => e.Policy.Name, StringComparer.Ordinal))
        {
            if (namespaceWide.TryAdd(entry.Policy.Namespace, entry)) continue;
            var first = namespaceWide[entry.Policy.Namespace];
            var scope = entry.Policy.Namespace == MeshConfig.RootNamespace ? "mesh-wide" : "namespace-wide";
            reject(entry.Source, Single("spec.selector",
                $"another {scope} PeerAuthentication, '{first.Policy.Key}', is older and applies (Istio honours only the oldest one per namespace)"));
        }
        var rejected = parsed.Where(e => e.Policy.Selector is not { MatchLabels.IsEmpty: false } && !ReferenceEquals(namespaceWide[e.Policy.Namespace].Source, e.Source))
            .Select(e => e.Source).ToHashSet();
        return [.. parsed.Where(e => !rejected.Contains(e.Source)).Select(e => e.Policy)];
    }

    private static ObjectProblems Single(string field, string message)
    {
        var p = new ObjectProblems();
        p.Add(field, message);
        return p;
    }

    private static string CreationTime(CachedObject o) =>
        JsonRead.Get(o.Object, "metadata") is { ValueKind: System.Text.Json.JsonValueKind.Object } metadata
        && JsonRead.Get(metadata, "creationTimestamp") is { ValueKind: System.Text.Json.JsonValueKind.String } created
            ? created.GetString() ?? "" : "";
}

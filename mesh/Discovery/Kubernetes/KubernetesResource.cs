namespace Ambient.Discovery.Kubernetes;

/// <summary>
/// One API resource the source lists and watches: where it is served, and which fields of its objects matter to the
/// mesh (everything else is dropped on arrival, so status churn such as probe timestamps causes no rebuild).
/// </summary>
internal sealed class KubernetesResource
{
    private KubernetesResource(string kind, string group, string version, string plural, bool namespaced, bool optional, string[] fields)
    {
        Kind = kind;
        Group = group;
        Version = version;
        Plural = plural;
        Namespaced = namespaced;
        Optional = optional;
        Projection = JsonProjection.Of(fields);
    }

    public string Kind { get; }

    /// <summary>API group; <c>""</c> for the core group.</summary>
    public string Group { get; }

    public string Version { get; }

    public string Plural { get; }

    public bool Namespaced { get; }

    /// <summary>
    /// A custom resource whose CRD may not be installed: a 404 on list means "no objects" (synced, empty) and is
    /// retried at the backoff ceiling, instead of holding back the whole config.
    /// </summary>
    public bool Optional { get; }

    public JsonProjection Projection { get; }

    public string ApiVersion => Group.Length == 0 ? Version : $"{Group}/{Version}";

    /// <summary>Cluster-wide collection path relative to the API root, e.g. <c>api/v1/pods</c>.</summary>
    public string Path => Group.Length == 0 ? $"api/{Version}/{Plural}" : $"apis/{Group}/{Version}/{Plural}";

    public override string ToString() => Kind;

    public static readonly KubernetesResource Namespaces = new("Namespace", "", "v1", "namespaces", namespaced: false, optional: false,
        ["metadata.name", "metadata.labels"]);

    public static readonly KubernetesResource Pods = new("Pod", "", "v1", "pods", namespaced: true, optional: false,
    [
        "metadata.name", "metadata.namespace", "metadata.uid", "metadata.labels", "metadata.creationTimestamp",
        "spec.serviceAccountName", "spec.nodeName", "spec.hostNetwork", "spec.containers[].name", "spec.containers[].ports",
        "status.phase", "status.podIP", "status.podIPs",
    ]);

    public static readonly KubernetesResource Services = new("Service", "", "v1", "services", namespaced: true, optional: false,
    [
        "metadata.name", "metadata.namespace", "metadata.uid", "metadata.labels",
        "spec.type", "spec.clusterIP", "spec.clusterIPs", "spec.ports", "spec.selector",
    ]);

    public static readonly KubernetesResource EndpointSlices = new("EndpointSlice", "discovery.k8s.io", "v1", "endpointslices", namespaced: true, optional: false,
        ["metadata.name", "metadata.namespace", "metadata.labels", "addressType", "endpoints", "ports"]);

    public static readonly KubernetesResource Gateways = new("Gateway", "gateway.networking.k8s.io", "v1", "gateways", namespaced: true, optional: true,
        ["metadata.name", "metadata.namespace", "metadata.labels", "spec.gatewayClassName", "status.addresses"]);

    public static readonly KubernetesResource AuthorizationPolicies = new("AuthorizationPolicy", "security.istio.io", "v1", "authorizationpolicies", namespaced: true, optional: true,
        ["metadata.name", "metadata.namespace", "metadata.labels", "metadata.annotations", "metadata.creationTimestamp", "spec"]);

    public static readonly KubernetesResource PeerAuthentications = new("PeerAuthentication", "security.istio.io", "v1", "peerauthentications", namespaced: true, optional: true,
        ["metadata.name", "metadata.namespace", "metadata.labels", "metadata.annotations", "metadata.creationTimestamp", "spec"]);

    private static readonly string[] WholeObject =
        ["metadata.name", "metadata.namespace", "metadata.labels", "metadata.annotations", "metadata.creationTimestamp", "spec"];

    // The waypoints' L7 kinds (the daemons ignore them, but one source serves both).
    public static readonly KubernetesResource HttpRoutes = new("HTTPRoute", "gateway.networking.k8s.io", "v1", "httproutes", namespaced: true, optional: true, WholeObject);
    public static readonly KubernetesResource GrpcRoutes = new("GRPCRoute", "gateway.networking.k8s.io", "v1", "grpcroutes", namespaced: true, optional: true, WholeObject);
    public static readonly KubernetesResource DestinationRules = new("DestinationRule", "networking.istio.io", "v1", "destinationrules", namespaced: true, optional: true, WholeObject);
    public static readonly KubernetesResource RequestAuthentications = new("RequestAuthentication", "security.istio.io", "v1", "requestauthentications", namespaced: true, optional: true, WholeObject);

    /// <summary>Everything the source watches (and exactly what deploy/kubernetes/rbac.yaml grants).</summary>
    public static IReadOnlyList<KubernetesResource> All { get; } =
    [
        Namespaces, Pods, Services, EndpointSlices, Gateways, AuthorizationPolicies, PeerAuthentications,
        HttpRoutes, GrpcRoutes, DestinationRules, RequestAuthentications,
    ];
}

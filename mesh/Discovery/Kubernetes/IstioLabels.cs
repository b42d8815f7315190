namespace Ambient.Discovery.Kubernetes;

/// <summary>The Istio ambient labels (and a few Kubernetes ones) the mapping reads.</summary>
internal static class IstioLabels
{
    /// <summary>On a namespace: <c>ambient</c> puts its pods in the mesh. On a pod: <c>none</c> opts it out, <c>ambient</c> opts it in.</summary>
    public const string DataplaneMode = "istio.io/dataplane-mode";
    public const string DataplaneModeAmbient = "ambient";
    public const string DataplaneModeNone = "none";

    /// <summary>On a namespace, service or pod: the name of the waypoint Gateway that handles its traffic; <c>none</c> = no waypoint.</summary>
    public const string UseWaypoint = "istio.io/use-waypoint";

    /// <summary>Namespace of the <see cref="UseWaypoint"/> Gateway when it is not the labelled object's own.</summary>
    public const string UseWaypointNamespace = "istio.io/use-waypoint-namespace";
    public const string UseWaypointNone = "none";

    /// <summary>Set by Istio on the resources it deploys for a waypoint (its pods and service).</summary>
    public const string GatewayManaged = "gateway.istio.io/managed";
    public const string GatewayManagedMesh = "istio.io-mesh-controller";

    /// <summary>Set by Gateway API implementations on a gateway's pods and service.</summary>
    public const string GatewayName = "gateway.networking.k8s.io/gateway-name";

    /// <summary>Gateway class of Istio waypoints.</summary>
    public const string WaypointGatewayClass = "istio-waypoint";

    /// <summary>On an EndpointSlice: the Service it belongs to.</summary>
    public const string ServiceName = "kubernetes.io/service-name";
}

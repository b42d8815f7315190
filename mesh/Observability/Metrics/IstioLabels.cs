using Ambient.Config;

namespace Ambient.Observability.Metrics;

/// <summary>
/// How Istio derives its standard metric labels from a workload, so existing dashboards and Kiali read our metrics:
/// canonical service/revision from <c>service.istio.io/canonical-*</c>, then <c>app.kubernetes.io/*</c>, then
/// <c>app</c>/<c>version</c>; missing values are <c>unknown</c> (revision: <c>latest</c>).
/// </summary>
public static class IstioLabels
{
    public const string Unknown = "unknown";

    public static string App(Workload? w) => Label(w, "app") ?? Unknown;

    public static string Version(Workload? w) => Label(w, "version") ?? Unknown;

    public static string CanonicalService(Workload? w) =>
        w is null ? Unknown : Label(w, "service.istio.io/canonical-name") ?? Label(w, "app.kubernetes.io/name") ?? Label(w, "app") ?? w.Name;

    public static string CanonicalRevision(Workload? w) =>
        w is null ? Unknown : Label(w, "service.istio.io/canonical-revision") ?? Label(w, "app.kubernetes.io/version") ?? Label(w, "version") ?? "latest";

    public static string WorkloadName(Workload? w) => w?.Name ?? Unknown;

    public static string Namespace(Workload? w) => w?.Namespace ?? Unknown;

    /// <summary>The SPIFFE identity proven by mTLS; unknown for plaintext peers.</summary>
    public static string Principal(Workload? w, bool mutualTls) => mutualTls && w is not null ? w.Identity : Unknown;

    private static string? Label(Workload? w, string key) =>
        w is not null && w.Labels.TryGetValue(key, out var value) && value.Length > 0 ? value : null;

    /// <summary>The source and destination labels shared by Istio's TCP and request metrics, in <see cref="PeerLabelNames"/> order.</summary>
    public static readonly string[] PeerLabelNames =
    [
        "source_workload", "source_canonical_service", "source_canonical_revision", "source_workload_namespace",
        "source_principal", "source_app", "source_version", "source_cluster",
        "destination_service", "destination_service_namespace", "destination_service_name",
        "destination_workload", "destination_canonical_service", "destination_canonical_revision", "destination_workload_namespace",
        "destination_principal", "destination_app", "destination_version", "destination_cluster",
    ];

    /// <summary>Writes the <see cref="PeerLabelNames"/> values into <paramref name="labels"/> from <paramref name="offset"/>.</summary>
    public static void WritePeers(string[] labels, int offset, Workload? source, string? sourcePrincipal, Workload? destination, Service? service, bool mutualTls, string cluster)
    {
        var values = labels.AsSpan(offset);
        values[0] = WorkloadName(source);
        values[1] = CanonicalService(source);
        values[2] = CanonicalRevision(source);
        values[3] = Namespace(source);
        values[4] = sourcePrincipal ?? Unknown;
        values[5] = App(source);
        values[6] = Version(source);
        values[7] = source is null ? Unknown : cluster;
        values[8] = service?.Hostname ?? Unknown;
        values[9] = service?.Namespace ?? Unknown;
        values[10] = service?.Name ?? Unknown;
        values[11] = WorkloadName(destination);
        values[12] = CanonicalService(destination);
        values[13] = CanonicalRevision(destination);
        values[14] = Namespace(destination);
        values[15] = Principal(destination, mutualTls);
        values[16] = App(destination);
        values[17] = Version(destination);
        values[18] = destination is null ? Unknown : cluster;
    }
}

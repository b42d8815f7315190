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
}

namespace Ambient.Cni;

/// <summary>
/// <c>CNI_ARGS</c>: <c>KEY=VALUE</c> pairs separated by <c>;</c>. Kubernetes runtimes pass the pod's identity here
/// (<c>IgnoreUnknown=1;K8S_POD_NAMESPACE=ns;K8S_POD_NAME=name;K8S_POD_INFRA_CONTAINER_ID=id;K8S_POD_UID=uid</c>).
/// Keys this plugin does not use are kept but ignored; a pair without <c>=</c> is an error (code 4).
/// </summary>
internal sealed record CniArgs(IReadOnlyDictionary<string, string> Values)
{
    public static readonly CniArgs Empty = new(new Dictionary<string, string>());

    public string PodName => Get("K8S_POD_NAME");
    public string PodNamespace => Get("K8S_POD_NAMESPACE");
    public string PodUid => Get("K8S_POD_UID");
    public string PodInfraContainerId => Get("K8S_POD_INFRA_CONTAINER_ID");

    /// <summary><c>namespace/name</c> for log lines and messages, or <c>(no pod)</c> outside Kubernetes.</summary>
    public string PodRef => PodName.Length == 0 && PodNamespace.Length == 0 ? "(no pod)" : $"{PodNamespace}/{PodName}";

    public string Get(string key) => Values.TryGetValue(key, out var v) ? v : "";

    public static CniArgs Parse(string? value)
    {
        if (string.IsNullOrEmpty(value)) return Empty;
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var pair in value.Split(';'))
        {
            if (pair.Length == 0) continue; // "A=1;" and ";;" are harmless
            int eq = pair.IndexOf('=');
            if (eq <= 0)
                throw new CniException(CniErrorCode.InvalidEnvironment,
                    $"CNI_ARGS has an invalid pair '{pair}'",
                    "CNI_ARGS must be KEY=VALUE pairs separated by ';', e.g. K8S_POD_NAMESPACE=default;K8S_POD_NAME=web-0");
            values[pair[..eq]] = pair[(eq + 1)..]; // the value may itself contain '='; the last pair for a key wins
        }
        return new CniArgs(values);
    }
}

using YamlDotNet.RepresentationModel;

namespace Ambient.Config;

/// <summary>
/// The envelope shared by Istio policy items: <c>{ metadata: {name, namespace}, spec: {...} }</c>, optionally in full
/// Kubernetes document form with <c>apiVersion: security.istio.io/v1</c> and <c>kind</c>.
/// </summary>
internal static class IstioObjectParser
{
    public static readonly string[] Fields = ["apiVersion", "kind", "metadata", "spec"];
    private static readonly string[] MetadataFields = ["name", "namespace", "labels", "annotations"];
    private static readonly string[] ApiVersions = ["security.istio.io/v1", "security.istio.io/v1beta1"];

    /// <summary>Checks apiVersion/kind and reads metadata. Returns null name/namespace when missing or invalid (already reported).</summary>
    public static (string? Name, string? Namespace, YamlNode NameNode) ParseEnvelope(YamlMap item, string kind)
    {
        var reader = item.Reader;
        var apiVersion = item.String("apiVersion");
        var actualKind = item.String("kind");
        if (apiVersion is not null && !ApiVersions.Contains(apiVersion))
        {
            reader.Error(item.Get("apiVersion")!, item.PathOf("apiVersion"),
                $"unsupported apiVersion '{apiVersion}' (expected {string.Join(" or ", ApiVersions)})");
        }
        if (actualKind is not null && actualKind != kind)
        {
            reader.Error(item.Get("kind")!, item.PathOf("kind"), $"kind must be '{kind}' in this list, got '{actualKind}'");
        }
        if (apiVersion is null && actualKind is not null) item.Missing("apiVersion");
        if (actualKind is null && apiVersion is not null) item.Missing("kind");

        var metadata = item.Map("metadata", MetadataFields, required: true);
        if (metadata is null) return (null, null, item.Node);
        var name = metadata.Name("name", DnsNames.IsSubdomain, DnsNames.SubdomainRule);
        var ns = metadata.Name("namespace", DnsNames.IsLabel, DnsNames.LabelRule);
        if (metadata.Get("labels") is { } labels) reader.Labels(labels, metadata.PathOf("labels"));
        if (metadata.Get("annotations") is { } annotations) reader.StringMap(annotations, metadata.PathOf("annotations"));
        return (name, ns, metadata.Get("name") ?? metadata.Node);
    }
}

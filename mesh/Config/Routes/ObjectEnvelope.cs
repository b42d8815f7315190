using System.Collections.Immutable;
using YamlDotNet.RepresentationModel;

namespace Ambient.Config.Routes;

/// <summary>
/// The Kubernetes envelope of a route or traffic object: <c>{ apiVersion?, kind?, metadata: {name, namespace, labels,
/// annotations}, spec }</c>. apiVersion and kind are optional (the list a config item sits in already says what it
/// is) but, when written, must be one of <paramref name="apiVersions"/> and the expected kind.
/// </summary>
internal static class ObjectEnvelope
{
    public static readonly string[] Fields = ["apiVersion", "kind", "metadata", "spec"];
    private static readonly string[] MetadataFields = ["name", "namespace", "labels", "annotations"];

    public static readonly string[] GatewayApiVersions = ["gateway.networking.k8s.io/v1", "gateway.networking.k8s.io/v1beta1"];
    public static readonly string[] GrpcRouteApiVersions = ["gateway.networking.k8s.io/v1", "gateway.networking.k8s.io/v1alpha2"];
    public static readonly string[] IstioNetworkingVersions = ["networking.istio.io/v1", "networking.istio.io/v1beta1", "networking.istio.io/v1alpha3"];
    public static readonly string[] IstioSecurityVersions = ["security.istio.io/v1", "security.istio.io/v1beta1"];

    /// <summary>Name, namespace and the annotation entries (with their nodes, for extension annotations); null name/namespace when invalid (reported).</summary>
    public static Envelope Parse(YamlMap item, string kind, IReadOnlyList<string> apiVersions)
    {
        var reader = item.Reader;
        var apiVersion = item.String("apiVersion");
        var actualKind = item.String("kind");
        if (apiVersion is not null && !apiVersions.Contains(apiVersion))
        {
            reader.Error(item.Get("apiVersion")!, item.PathOf("apiVersion"),
                $"unsupported apiVersion '{apiVersion}' (expected {string.Join(" or ", apiVersions)})");
        }
        if (actualKind is not null && actualKind != kind)
        {
            reader.Error(item.Get("kind")!, item.PathOf("kind"), $"kind must be '{kind}' in this list, got '{actualKind}'");
        }
        if (apiVersion is null && actualKind is not null) item.Missing("apiVersion");
        if (actualKind is null && apiVersion is not null) item.Missing("kind");

        var metadata = item.Map("metadata", MetadataFields, required: true);
        if (metadata is null) return new Envelope(null, null, []);
        var name = metadata.Name("name", DnsNames.IsSubdomain, DnsNames.SubdomainRule);
        var ns = metadata.Name("namespace", DnsNames.IsLabel, DnsNames.LabelRule);
        if (metadata.Get("labels") is { } labels) reader.Labels(labels, metadata.PathOf("labels"));
        var annotations = ImmutableArray.CreateBuilder<Annotation>();
        if (metadata.Get("annotations") is { } annotationsNode)
        {
            foreach (var (_, key, value, path) in reader.Entries(annotationsNode, metadata.PathOf("annotations")))
            {
                var text = ConfigReader.IsNull(value) ? "" : reader.Scalar(value, path);
                if (text is not null) annotations.Add(new Annotation(key, text, value, path));
            }
        }
        return new Envelope(name, ns, annotations.ToImmutable());
    }

    internal readonly record struct Envelope(string? Name, string? Namespace, ImmutableArray<Annotation> Annotations);

    internal readonly record struct Annotation(string Key, string Value, YamlNode Node, string Path);
}

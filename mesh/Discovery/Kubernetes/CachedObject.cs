using System.Text.Json;

namespace Ambient.Discovery.Kubernetes;

/// <summary>
/// One object as the source keeps it: identity and resourceVersion, plus only the fields the mesh reads
/// (<see cref="KubernetesResource.Projection"/>), as an immutable JSON element that needs no disposal.
/// </summary>
internal sealed class CachedObject
{
    private CachedObject(string @namespace, string name, string resourceVersion, byte[] projected)
    {
        Namespace = @namespace;
        Name = name;
        ResourceVersion = resourceVersion;
        Projected = projected;
        var reader = new Utf8JsonReader(projected);
        Object = JsonElement.ParseValue(ref reader);
    }

    /// <summary><c>""</c> for cluster-scoped objects.</summary>
    public string Namespace { get; }

    public string Name { get; }

    public string ResourceVersion { get; }

    /// <summary>The projected object.</summary>
    public JsonElement Object { get; }

    /// <summary>Compact JSON of <see cref="Object"/>; equal bytes = no change that matters.</summary>
    public byte[] Projected { get; }

    /// <summary><c>"namespace/name"</c>, or <c>"name"</c> for cluster-scoped objects.</summary>
    public string Key => Namespace.Length == 0 ? Name : $"{Namespace}/{Name}";

    public bool SameContent(CachedObject other) => Projected.AsSpan().SequenceEqual(other.Projected);

    /// <summary>Reads metadata and projects <paramref name="element"/>; null (with a reason) when it has no usable name.</summary>
    public static CachedObject? From(KubernetesResource resource, JsonElement element, out string? problem)
    {
        problem = null;
        if (element.ValueKind != JsonValueKind.Object
            || !element.TryGetProperty("metadata", out var metadata) || metadata.ValueKind != JsonValueKind.Object)
        {
            problem = "object has no metadata";
            return null;
        }
        var name = Text(metadata, "name");
        if (string.IsNullOrEmpty(name))
        {
            problem = "object has no metadata.name";
            return null;
        }
        var ns = resource.Namespaced ? Text(metadata, "namespace") ?? "" : "";
        if (resource.Namespaced && ns.Length == 0)
        {
            problem = $"{resource.Kind} '{name}' has no metadata.namespace";
            return null;
        }
        return new CachedObject(ns, name, Text(metadata, "resourceVersion") ?? "", resource.Projection.Apply(element));
    }

    internal static string? Text(JsonElement element, string property) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(property, out var value) && value.ValueKind == JsonValueKind.String
            ? value.GetString()
            : null;
}

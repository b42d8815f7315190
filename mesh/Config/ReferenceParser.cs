using YamlDotNet.RepresentationModel;

namespace Ambient.Config;

/// <summary>Parses <c>waypoint:</c> references: <c>"ns/name"</c>, <c>"name"</c> or <c>{ name, namespace }</c>.</summary>
internal static class ReferenceParser
{
    private static readonly string[] Fields = ["name", "namespace"];

    public static Located<NamespacedName>? Parse(YamlMap owner, string key, string? defaultNamespace)
    {
        var node = owner.Get(key);
        if (node is null) return null;
        var reader = owner.Reader;
        var path = owner.PathOf(key);
        string? ns, name;
        if (node is YamlMappingNode)
        {
            var map = reader.Map(node, path, Fields)!;
            name = map.String("name", required: true);
            ns = map.String("namespace") ?? defaultNamespace;
            if (name is null) return null;
        }
        else
        {
            var text = reader.Scalar(node, path, "a reference (\"namespace/name\", \"name\" or { name, namespace })");
            if (text is null) return null;
            var slash = text.IndexOf('/');
            (ns, name) = slash < 0 ? (defaultNamespace, text) : (text[..slash], text[(slash + 1)..]);
        }
        if (ns is null) return null; // the owner's namespace was invalid; already reported
        if (!DnsNames.IsLabel(ns) || !DnsNames.IsRfc1035Label(name))
        {
            reader.Error(node, path, $"'{ns}/{name}' is not a valid service reference (expected \"namespace/name\": a namespace and a service name made of lowercase letters, digits and '-')");
            return null;
        }
        return new Located<NamespacedName>(new NamespacedName(ns, name), node, path);
    }
}

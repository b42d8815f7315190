namespace Ambient.Config;

/// <summary>A namespace + name reference, e.g. a waypoint service. Written in YAML as <c>"ns/name"</c>,
/// <c>"name"</c> (same namespace as the referring object) or <c>{ name, namespace }</c>.</summary>
public readonly record struct NamespacedName(string Namespace, string Name)
{
    public override string ToString() => $"{Namespace}/{Name}";
}

namespace Ambient.Config;

/// <summary>Istio AuthorizationPolicy <c>spec.action</c>; omitted means <see cref="Allow"/>. YAML is case-insensitive.</summary>
public enum AuthorizationAction
{
    Allow,
    Deny,
    Audit,
    Custom,
}

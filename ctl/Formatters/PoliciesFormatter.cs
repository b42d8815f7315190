using System.Text.Json;

namespace Ambient.Ctl.Formatters;

/// <summary>
/// <c>ambientctl policies</c>: AuthorizationPolicies and PeerAuthentications of <c>GET /policies</c> in one table.
/// ACTION is ALLOW/DENY/… for an AuthorizationPolicy and the mTLS mode for a PeerAuthentication; SCOPE is what the
/// policy applies to (a selector, target references, or the whole namespace).
/// </summary>
public static class PoliciesFormatter
{
    public static string Render(JsonElement root)
    {
        var table = new Table("KIND", "NAMESPACE", "NAME", "ACTION", "SCOPE", "RULES");
        foreach (var p in JsonText.Items(root, "authorizationPolicies"))
        {
            var spec = JsonText.Object(p, "spec");
            table.Add("AuthorizationPolicy", Namespace(p), Name(p), JsonText.String(spec, "action"), Scope(p, spec),
                JsonText.Number(JsonText.Items(spec, "rules").Count()));
        }
        foreach (var p in JsonText.Items(root, "peerAuthentications"))
        {
            var spec = JsonText.Object(p, "spec");
            // Port-level overrides are the PeerAuthentication's "rules": 8080=PERMISSIVE beside a STRICT default.
            var portLevel = string.Join(",", JsonText.Properties(spec, "portLevelMtls").Select(port => $"{port.Name}={JsonText.String(port.Value, "mode")}"));
            table.Add("PeerAuthentication", Namespace(p), Name(p), JsonText.String(JsonText.Object(spec, "mtls"), "mode"), Scope(p, spec), portLevel);
        }
        return table.Render();
    }

    private static string Namespace(JsonElement policy) => JsonText.String(JsonText.Object(policy, "metadata"), "namespace");

    private static string Name(JsonElement policy) => JsonText.String(JsonText.Object(policy, "metadata"), "name");

    private static string Scope(JsonElement policy, JsonElement spec)
    {
        var selector = JsonText.Labels(JsonText.Object(spec, "selector"), "matchLabels");
        if (selector.Length > 0) return $"selector {selector}";
        var targets = string.Join(",", JsonText.Items(spec, "targetRefs").Select(t => $"{JsonText.String(t, "kind")}/{JsonText.String(t, "name")}"));
        if (targets.Length > 0) return $"targetRefs {targets}";
        return $"namespace {Namespace(policy)}";
    }
}

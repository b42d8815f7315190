using System.Text;
using System.Text.Json;

namespace Ambient.Ctl.Formatters;

/// <summary>
/// <c>ambientctl config-dump</c> as a table: which config is in use and how much of it, plus the objects that were
/// rejected — the first questions when the mesh does not do what the config says. The dump itself is <c>-o json</c>.
/// </summary>
public static class ConfigDumpFormatter
{
    public static string Render(JsonElement root)
    {
        int policies = JsonText.Items(root, "authorizationPolicies").Count() + JsonText.Items(root, "peerAuthentications").Count();
        var rejected = JsonText.Items(root, "rejectedObjects").Select(r => r.GetString() ?? "").ToList();
        var table = new Table("GENERATION", "SOURCE", "TRUST-DOMAIN", "WORKLOADS", "SERVICES", "POLICIES", "CERTIFICATES", "REJECTED");
        table.Add(JsonText.String(root, "generation"), JsonText.String(root, "source"), JsonText.String(root, "trustDomain"),
            JsonText.Number(JsonText.Items(root, "workloads").Count()), JsonText.Number(JsonText.Items(root, "services").Count()),
            JsonText.Number(policies), JsonText.Number(JsonText.Items(root, "certificates").Count()), JsonText.Number(rejected.Count));

        var text = new StringBuilder(table.Render());
        if (rejected.Count > 0)
        {
            text.Append("\nrejected (left out of the config in use; the daemon's log says why):\n");
            foreach (var r in rejected) text.Append("  ").Append(r).Append('\n');
        }
        text.Append("\nthe whole dump: ambientctl config-dump -o json\n");
        return text.ToString();
    }
}

using System.Text.Json;

namespace Ambient.Ctl.Formatters;

/// <summary><c>ambientctl workloads</c>: one row per workload of <c>GET /workloads</c>.</summary>
public static class WorkloadsFormatter
{
    public static string Render(JsonElement root)
    {
        var table = new Table("NAMESPACE", "NAME", "ADDRESS", "NODE", "PROTOCOL", "IDENTITY", "WAYPOINT", "LOCAL");
        foreach (var w in JsonText.Items(root, "workloads"))
        {
            table.Add(JsonText.String(w, "namespace"), JsonText.String(w, "name"), JsonText.Joined(w, "addresses"),
                JsonText.String(w, "node"), JsonText.String(w, "protocol"), JsonText.String(w, "identity"),
                JsonText.String(w, "waypoint"), JsonText.String(w, "local"));
        }
        return table.Render();
    }
}

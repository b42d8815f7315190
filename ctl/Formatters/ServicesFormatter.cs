using System.Text.Json;

namespace Ambient.Ctl.Formatters;

/// <summary><c>ambientctl services</c>: one row per service of <c>GET /services</c>, with its resolved endpoints.</summary>
public static class ServicesFormatter
{
    /// <summary>Endpoint addresses shown before "+N more": enough to recognise them, a row still fits a terminal.</summary>
    public const int EndpointsShown = 3;

    public static string Render(JsonElement root)
    {
        var table = new Table("NAMESPACE", "NAME", "VIPS", "PORTS", "ENDPOINTS", "WAYPOINT");
        foreach (var s in JsonText.Items(root, "services"))
        {
            // port->targetPort; a target of 0 means "same as the port" in the config model.
            var ports = string.Join(",", JsonText.Properties(s, "ports").Select(p =>
                p.Value.GetInt32() == 0 ? p.Name : $"{p.Name}->{p.Value.GetInt32()}"));
            table.Add(JsonText.String(s, "namespace"), JsonText.String(s, "name"), JsonText.Joined(s, "vips"), ports,
                Endpoints(JsonText.Items(s, "endpoints").Select(e => JsonText.String(e, "address")).ToList()),
                JsonText.String(s, "waypoint"));
        }
        return table.Render();
    }

    private static string Endpoints(IReadOnlyList<string> addresses) =>
        addresses.Count <= EndpointsShown
            ? string.Join(",", addresses)
            : $"{string.Join(",", addresses.Take(EndpointsShown))} +{addresses.Count - EndpointsShown} more";
}

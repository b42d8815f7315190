using System.Text.Json;

namespace Ambient.Ctl.Formatters;

/// <summary>
/// <c>ambientctl certs</c>: the current certificate of each identity the daemon holds (<c>GET /certs</c>). A
/// certificate still being issued shows as &lt;pending&gt;; the chain and the previous certificate are in <c>-o json</c>.
/// </summary>
public static class CertsFormatter
{
    public const string Pending = "<pending>";

    public static string Render(JsonElement root)
    {
        var table = new Table("IDENTITY", "SERIAL", "NOT-AFTER", "EXPIRES-IN");
        foreach (var c in JsonText.Items(root, "certificates"))
        {
            var current = JsonText.Object(c, "current");
            if (current.ValueKind != JsonValueKind.Object)
            {
                table.Add(JsonText.String(c, "identity"), Pending, "-", "-");
                continue;
            }
            long seconds = current.TryGetProperty("secondsToExpiry", out var s) && s.TryGetInt64(out var n) ? n : 0;
            table.Add(JsonText.String(c, "identity"), JsonText.String(current, "serial"), JsonText.String(current, "notAfter"),
                JsonText.Duration(seconds));
        }
        return table.Render();
    }
}

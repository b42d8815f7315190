using System.Text;
using System.Text.Json;

namespace Ambient.Ctl.Formatters;

/// <summary>
/// <c>ambientctl explain</c>: the steps the daemon would take for the connection, each policy it consulted with its
/// verdict, and the result with its reason — last, where the eye lands.
/// </summary>
public static class ExplainFormatter
{
    public static string Render(JsonElement root)
    {
        var text = new StringBuilder();
        text.Append("SOURCE:       ").Append(JsonText.String(root, "source")).Append('\n');
        text.Append("DESTINATION:  ").Append(JsonText.String(root, "destination")).Append("\n\n");

        var steps = new Table("STEP", "DETAIL");
        foreach (var step in JsonText.Items(root, "steps"))
            steps.Add(JsonText.String(step, "step"), JsonText.String(step, "detail"));
        text.Append(steps.Render()).Append('\n');

        var policies = new Table("POLICY", "ACTION", "VERDICT");
        foreach (var verdict in JsonText.Items(root, "policies"))
            policies.Add(JsonText.String(verdict, "policy"), JsonText.String(verdict, "action"), JsonText.String(verdict, "verdict"));
        text.Append(policies.RowCount > 0 ? policies.Render() : "POLICIES: none consulted\n").Append('\n');

        text.Append("RESULT: ").Append(JsonText.String(root, "result")).Append('\n');
        text.Append("REASON: ").Append(JsonText.String(root, "reason")).Append('\n');
        return text.ToString();
    }

    /// <summary>0 when the connection would be carried (ALLOW, PASSTHROUGH), 3 when not (DENY, REFUSED): scriptable checks.</summary>
    public static int ExitCode(JsonElement root) => JsonText.String(root, "result") switch
    {
        "ALLOW" or "PASSTHROUGH" => ExitCodes.Ok,
        _ => ExitCodes.NotCarried,
    };
}

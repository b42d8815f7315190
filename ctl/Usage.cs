using System.Reflection;
using System.Text;

namespace Ambient.Ctl;

/// <summary>The tool's help text (built from the verb list, so a new verb cannot be left out) and its version.</summary>
public static class Usage
{
    public static string Tool
    {
        get
        {
            var text = new StringBuilder("""
                ambientctl: inspect and operate the Ambient node daemon through its admin API.

                Usage:
                  ambientctl [--admin ADDR:PORT] [-o table|json] VERB [ARGS...]
                  ambientctl VERB --help | ambientctl help VERB

                Verbs:

                """);
            int width = Verbs.All.Max(v => v.Name.Length);
            foreach (var verb in Verbs.All)
                text.Append("  ").Append(verb.Name.PadRight(width)).Append(Table.Gap).Append(verb.Summary).Append('\n');
            text.Append($"""

                Options:
                  --admin ADDR:PORT   the daemon's admin API (default {CommandLine.DefaultAdmin}, or ${CommandLine.AdminEnvironmentVariable}).
                                      It answers loopback clients only: run ambientctl on the node (in its network namespace).
                  -o, --output FMT    table (default) or json (the daemon's JSON, unchanged)
                  -h, --help          this text, or a verb's
                  --version           the version of ambientctl

                Exit status: 0 done; 1 daemon unreachable or failed; 2 bad usage or request refused by the daemon;
                3 explain: the connection would not be carried (DENY, REFUSED).

                """);
            return text.ToString();
        }
    }

    public static string Version =>
        typeof(Usage).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0] ?? "unknown";
}

using Ambient.Ctl.Formatters;
using System.Text.Json;

namespace Ambient.Ctl;

/// <summary>What a verb runs with: the admin API, the output format, its own arguments, where to print.</summary>
public sealed record VerbContext(AdminClient Admin, OutputFormat Output, IReadOnlyList<string> Arguments, TextWriter Out);

/// <summary>One verb: its name, usage, help text, how many arguments it takes, and what it does (returns the exit code).</summary>
public sealed record Verb(string Name, string Arguments, string Summary, string Details, int MinArguments, int MaxArguments,
    Func<VerbContext, Task<int>> RunAsync)
{
    public string Usage => $"ambientctl [--admin ADDR:PORT] [-o table|json] {Name}{(Arguments.Length > 0 ? " " + Arguments : "")}";

    public string Help => $"{Summary}\n\nUsage:\n  {Usage}\n\n{Details}\n";

    /// <summary>Throws a <see cref="UsageException"/> when the number of arguments is wrong.</summary>
    public void CheckArguments(IReadOnlyList<string> arguments)
    {
        if (arguments.Count < MinArguments)
            throw new UsageException($"{Name} needs {(MinArguments == MaxArguments ? "" : "at least ")}{MinArguments} argument(s): {Arguments}", Name);
        if (arguments.Count > MaxArguments)
            throw new UsageException(MaxArguments == 0 ? $"{Name} takes no arguments" : $"{Name} takes at most {MaxArguments} argument(s): {Arguments}", Name);
    }
}

/// <summary>The verbs of <c>ambientctl</c>, each a call to the admin API and a formatter for its answer.</summary>
public static class Verbs
{
    public static readonly IReadOnlyList<Verb> All =
    [
        new("workloads", "", "List the workloads the daemon knows (LOCAL = served by this daemon).",
            "Columns: NAMESPACE NAME ADDRESS NODE PROTOCOL IDENTITY WAYPOINT LOCAL.", 0, 0,
            c => ShowAsync(c, "/workloads", WorkloadsFormatter.Render)),
        new("services", "", "List the services with their VIPs, ports (port->targetPort), endpoints and waypoint.",
            "Columns: NAMESPACE NAME VIPS PORTS ENDPOINTS WAYPOINT.", 0, 0,
            c => ShowAsync(c, "/services", ServicesFormatter.Render)),
        new("policies", "", "List the AuthorizationPolicies and PeerAuthentications in force.",
            "Columns: KIND NAMESPACE NAME ACTION SCOPE RULES. For a PeerAuthentication ACTION is the mTLS mode and\n"
            + "RULES its port-level modes. Rejected (invalid) policies are not in force: see config-dump.", 0, 0,
            c => ShowAsync(c, "/policies", PoliciesFormatter.Render)),
        new("certs", "", "List the workload certificates the daemon holds and when they expire.",
            "Columns: IDENTITY SERIAL NOT-AFTER EXPIRES-IN. -o json adds validity, renewal time, chain and the\n"
            + "previous certificate (kept until it expires).", 0, 0,
            c => ShowAsync(c, "/certs", CertsFormatter.Render)),
        new("config-dump", "", "Show the config in use: generation, source, counts and rejected objects.",
            "-o json prints the whole dump: workloads, services, policies, rejected objects, certificates.", 0, 0,
            c => ShowAsync(c, "/config_dump", ConfigDumpFormatter.Render)),
        new("logs", "[LEVEL]", "Show the daemon's log level, or set it (trace, debug, info, warn, error).",
            "The level changes at once and lasts until the daemon restarts.", 0, 1, LogsAsync),
        new("explain", "SOURCE DESTINATION:PORT",
            "Explain how a connection would be handled now: routing, waypoint, endpoint, each policy consulted, verdict.",
            "SOURCE is a workload as NAMESPACE/NAME or its IP; DESTINATION an IP (service VIP, workload or outside).\n"
            + "Nothing is connected: the daemon runs its routing and authorization code against the current config.\n\n"
            + "Exit status: 0 when the connection would be carried (ALLOW, PASSTHROUGH), 3 when not (DENY, REFUSED).", 2, 2,
            ExplainAsync),
        new("quit", "", "Ask the daemon to drain its connections and stop (POST /quitquitquit).",
            "The daemon stops accepting, waits for open connections up to its drain timeout, then exits.", 0, 0, QuitAsync),
    ];

    public static Verb? Find(string name) => All.FirstOrDefault(v => v.Name == name);

    /// <summary>GET an endpoint; print its JSON unchanged with <c>-o json</c>, else the formatter's table.</summary>
    private static async Task<int> ShowAsync(VerbContext c, string path, Func<JsonElement, string> table)
    {
        using var answer = await c.Admin.GetAsync(path);
        Print(c, answer, table);
        return ExitCodes.Ok;
    }

    private static void Print(VerbContext c, AdminAnswer answer, Func<JsonElement, string> table)
    {
        var text = c.Output == OutputFormat.Json ? answer.Text : table(answer.Root);
        c.Out.Write(text.EndsWith('\n') ? text : text + "\n");
    }

    private static async Task<int> LogsAsync(VerbContext c)
    {
        using var answer = c.Arguments.Count == 0
            ? await c.Admin.GetAsync("/logging")
            : await c.Admin.PostAsync($"/logging?level={Uri.EscapeDataString(c.Arguments[0])}");
        Print(c, answer, root => $"log level: {JsonText.String(root, "level")}");
        return ExitCodes.Ok;
    }

    private static async Task<int> ExplainAsync(VerbContext c)
    {
        var query = $"/explain?source={Uri.EscapeDataString(c.Arguments[0])}&destination={Uri.EscapeDataString(c.Arguments[1])}";
        using var answer = await c.Admin.GetAsync(query);
        Print(c, answer, ExplainFormatter.Render);
        return ExplainFormatter.ExitCode(answer.Root);
    }

    private static async Task<int> QuitAsync(VerbContext c)
    {
        using var answer = await c.Admin.PostAsync("/quitquitquit");
        Print(c, answer, root => $"daemon at {c.Admin.Admin}: {JsonText.String(root, "status")}");
        return ExitCodes.Ok;
    }
}

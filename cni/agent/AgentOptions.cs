namespace Ambient.Cni.Agent;

/// <summary>Command line of the node agent: a command and its options, validated once.</summary>
public sealed record AgentOptions
{
    public string Command { get; init; } = "run";
    public string? ConfigPath { get; init; }
    public string CniSocket { get; init; } = "/var/run/ambient/cni-agent.sock";
    public string DaemonSocket { get; init; } = "/var/run/ambient/daemon.sock";
    public string StateFile { get; init; } = "/var/run/ambient/agent-pods.json";
    public string? Netns { get; init; }
    public string? PodNamespace { get; init; }
    public string? PodName { get; init; }
    public string PodUid { get; init; } = "";
    public IReadOnlyList<string> Ips { get; init; } = [];
    public string LogLevel { get; init; } = "info";
    public string LogFormat { get; init; } = "json";

    public const string Usage = """
        ambient-cni-agent — the Ambient node agent.

        Puts pods in the mesh without restarting them: for each pod that joins (reported by the ambient-cni
        plugin, or enrolled by hand) it installs the redirect rules inside the pod's network namespace (one
        nftables table, "inet ambient") and hands the namespace to the node daemon, which then serves the pod
        from inside it. When the pod leaves, every rule is removed. A pod is in the mesh when the mesh config
        lists its workload (by uid, address, or namespace/name) with protocol HBONE.

        Usage:
          ambient-cni-agent [run] [options]          Run the agent.
          ambient-cni-agent enroll --netns PATH --namespace NS --name NAME [--uid UID] [--ip IP]...
                                                     Ask a running agent to put a running pod in the mesh.
          ambient-cni-agent unenroll --netns PATH --namespace NS --name NAME [--uid UID]
                                                     Ask a running agent to take a pod out of the mesh.

        Options:
          --config PATH          Mesh config (YAML, as for ambient-daemon). Default: the embedded default.
          --cni-socket PATH      Where the CNI plugin reaches the agent. Default: /var/run/ambient/cni-agent.sock
          --daemon-socket PATH   The node daemon's agent socket (ambient-daemon --agent-socket).
                                 Default: /var/run/ambient/daemon.sock
          --state-file PATH      The enrolled pods, for restarts. Default: /var/run/ambient/agent-pods.json
          --log-level LEVEL      trace, debug, info, warn, error. Default: info
          --log-format FORMAT    json or text. Default: json
          -h, --help             Show this help.

        Exit codes: 0 success, 1 failure (enroll/unenroll refused, runtime error), 2 bad command line.
        """;

    public static AgentOptions Parse(string[] args, out bool help)
    {
        help = false;
        var o = new AgentOptions();
        var ips = new List<string>();
        int i = 0;
        if (args.Length > 0 && args[0] is "run" or "enroll" or "unenroll")
            o = o with { Command = args[i++] };
        for (; i < args.Length; i++)
        {
            string arg = args[i];
            string Value() => Ambient.Hosting.OptionValues.Next(args, ref i);
            switch (arg)
            {
                case "-h" or "--help": help = true; return o;
                case "--config": o = o with { ConfigPath = Value() }; break;
                case "--cni-socket": o = o with { CniSocket = Value() }; break;
                case "--daemon-socket": o = o with { DaemonSocket = Value() }; break;
                case "--state-file": o = o with { StateFile = Value() }; break;
                case "--netns": o = o with { Netns = Value() }; break;
                case "--namespace": o = o with { PodNamespace = Value() }; break;
                case "--name": o = o with { PodName = Value() }; break;
                case "--uid": o = o with { PodUid = Value() }; break;
                case "--ip":
                    var ip = Value();
                    if (!System.Net.IPAddress.TryParse(ip, out _))
                        throw new ArgumentException($"--ip '{ip}' is not an IP address");
                    ips.Add(ip);
                    break;
                case "--log-level": o = o with { LogLevel = Value() }; break;
                case "--log-format":
                    var f = Value();
                    if (f is not ("json" or "text")) throw new ArgumentException($"--log-format '{f}' is not json or text");
                    o = o with { LogFormat = f };
                    break;
                default: throw new ArgumentException($"unknown option '{arg}' (see --help)");
            }
        }
        if (o.Command is "enroll" or "unenroll" && (o.Netns is null || o.PodNamespace is null || o.PodName is null))
            throw new ArgumentException($"{o.Command} needs --netns, --namespace and --name");
        return o with { Ips = ips };
    }
}

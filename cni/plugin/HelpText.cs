namespace Ambient.Cni;

/// <summary>What <c>ambient-cni --help</c> prints.</summary>
internal static class HelpText
{
    public const string SampleConflist = """
        {
          "cniVersion": "1.0.0",
          "name": "k8s-pod-network",
          "plugins": [
            { "type": "ptp", "ipam": { "type": "host-local", "subnet": "10.1.0.0/24" } },
            {
              "type": "ambient-cni",
              "agentSocket": "/var/run/ambient/cni-agent.sock",
              "failOpen": false,
              "logLevel": "info"
            }
          ]
        }
        """;

    public static readonly string Text = $"""
        ambient-cni: the Ambient mesh's CNI plugin.

        It is chained after the node's primary CNI plugin. The container runtime runs it for every pod sandbox; it
        tells the Ambient node agent about new (ADD) and deleted (DEL) pods, and asks it on CHECK, over the agent's
        Unix socket. The agent then redirects the traffic of pods in ambient namespaces inside their network
        namespace. The plugin changes no network state itself: on ADD it prints the primary plugin's result
        (prevResult) unchanged.

        Install: copy ambient-cni into the runtime's CNI bin directory (e.g. /opt/cni/bin) and append an entry with
        "type": "ambient-cni" to the "plugins" list of the node's network configuration list (e.g. in
        /etc/cni/net.d/), after the primary plugin:

        {SampleConflist}

        Plugin configuration fields:
          agentSocket  path of the node agent's Unix socket (default {NetworkConfig.DefaultAgentSocket})
          failOpen     true: when the agent cannot be reached, let pods start without redirection (logged);
                       false (default): ADD fails with code 11 (try again later) until the agent is up
          logLevel     debug | info (default) | warn | error: what is logged on stderr

        CNI versions: {string.Join(", ", CniVersions.Supported)}. Commands: ADD, DEL, CHECK, VERSION, and STATUS, GC.
        Errors are the spec's JSON on stdout with exit code 1: 1 incompatible version, 4 bad CNI_* variables,
        5 stdin unreadable, 6 stdin not a JSON object, 7 invalid configuration (also: not chained), 11 agent
        unreachable, 50 STATUS: agent unreachable, 100 agent refused the pod or CHECK failed, 101 agent protocol error.
        DEL always succeeds once its input is valid, whether or not the agent is reachable.
        """;
}

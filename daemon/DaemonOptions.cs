using System.Net;
using Ambient.Hosting;

namespace Ambient.Daemon;

/// <summary>Command-line settings of one daemon process, parsed and validated once at start-up.</summary>
public sealed record DaemonOptions
{
    /// <summary>The YAML config file; null means the embedded default (deploy/local/ambient.yaml).</summary>
    public string? ConfigPath { get; init; }
    /// <summary>Which node this daemon runs on: it serves the workloads the config places on it.</summary>
    public string Node { get; init; } = "local";
    /// <summary>Explicit local mode: serve only these workloads ("namespace/name"), whatever their node.</summary>
    public IReadOnlyList<string> Workloads { get; init; } = [];
    public string StateDirectory { get; init; } = DefaultStateDirectory();
    public string? CaCertPath { get; init; }
    public string? CaKeyPath { get; init; }
    public IPEndPoint? ReadinessEndpoint { get; init; } = new(IPAddress.Any, 15021);
    /// <summary>Prometheus <c>/metrics</c>; null disables.</summary>
    public IPEndPoint? MetricsEndpoint { get; init; } = new(IPAddress.Any, 15020);
    /// <summary>Admin API (loopback clients only); null disables.</summary>
    public IPEndPoint? AdminEndpoint { get; init; } = new(IPAddress.Loopback, 15000);
    /// <summary>How long open connections may run on after SIGTERM before they are cut.</summary>
    public TimeSpan DrainTimeout { get; init; } = TimeSpan.FromSeconds(25);
    /// <summary>Istio's <c>source_cluster</c>/<c>destination_cluster</c> label value.</summary>
    public string Cluster { get; init; } = "Kubernetes";
    public int OutboundPort { get; init; } = 15001;
    public int InboundPlaintextPort { get; init; } = 15006;
    public int HbonePort { get; init; } = 15008;
    /// <summary>SOCKS5 outbound port for hosts without interception; 0 disables it.</summary>
    public int Socks5Port { get; init; } = 15080;
    /// <summary>Read workloads, services and policies from the Kubernetes API instead of a file.</summary>
    public bool Kubernetes { get; init; }
    /// <summary>Kubeconfig for <see cref="Kubernetes"/>; null means $KUBECONFIG, in-cluster, then ~/.kube/config.</summary>
    public string? Kubeconfig { get; init; }
    /// <summary>In-pod mode: listen here for the node agent, which hands over enrolled pods' network namespaces.</summary>
    public string? AgentSocket { get; init; }
    public string LogLevel { get; init; } = "info";
    public string LogFormat { get; init; } = "json";

    public static string DefaultStateDirectory() => Ambient.Hosting.StateDirectory.Default();

    public const string Usage = """
        ambient-daemon — the Ambient node proxy.

        Carries the TCP traffic of this node's mesh workloads inside HBONE tunnels (HTTP/2 CONNECT over
        mutual TLS with SPIFFE identities). Without a cluster it reads workloads, services and policies
        from a local YAML file and reloads it when it changes.

        Usage: ambient-daemon [options]

        Options:
          --config PATH          Local config file (YAML). Default: the embedded default config
                                 (the same as deploy/local/ambient.yaml).
          --kubernetes           Discover workloads, services and policies from the Kubernetes API (in-cluster
                                 service account, $KUBECONFIG or ~/.kube/config) instead of a file.
          --kubeconfig PATH      Use this kubeconfig (implies --kubernetes).
          --node NAME            Serve the workloads placed on this node. Default: local
          --workload NS/NAME     Explicit local mode: serve this workload (repeatable), whatever its node.
          --state-dir DIR        Where the mesh CA is created on first start. Default: /var/lib/ambient
                                 as root, else ~/.local/state/ambient
          --ca-cert PATH         Use this CA certificate (PEM) instead of the state directory's.
          --ca-key PATH          The CA private key (PEM) for --ca-cert.
          --readiness ADDR:PORT  Readiness endpoint (GET /healthz/ready). Default: 0.0.0.0:15021; "off" disables.
          --metrics ADDR:PORT    Prometheus metrics (GET /metrics, /stats/prometheus). Default: 0.0.0.0:15020; "off" disables.
          --admin ADDR:PORT      Admin API for ambientctl; answers loopback clients only. Default: 127.0.0.1:15000;
                                 "off" disables.
          --drain-timeout SECS   On SIGTERM: readiness goes false, listeners close, HBONE peers get GOAWAY, and open
                                 connections may finish for this long before they are cut. Default: 25
          --cluster NAME         Cluster name in metric labels. Default: Kubernetes
          --outbound-port N      Captured outbound listener per workload. Default: 15001
          --inbound-port N       Inbound plaintext listener per workload. Default: 15006
          --hbone-port N         HBONE listener per workload. Default: 15008
          --socks5-port N        SOCKS5 outbound listener per workload (no interception needed). Default: 15080; 0 disables
          --agent-socket PATH    In-pod mode: serve the pods the node agent (ambient-cni-agent) enrols, with listeners
                                 inside each pod's network namespace, instead of the config's workloads on this node.
                                 The usual path is /var/run/ambient/daemon.sock
          --log-level LEVEL      trace, debug, info, warn, error. Default: info
          --log-format FORMAT    json or text. Default: json
          -h, --help             Show this help.

        Exit codes: 0 stopped normally, 1 runtime failure, 2 bad command line or configuration.
        """;

    /// <summary>Parses argv; throws <see cref="ArgumentException"/> naming the offending option.</summary>
    public static DaemonOptions Parse(string[] args, out bool help)
    {
        help = false;
        var o = new DaemonOptions();
        var workloads = new List<string>();
        for (int i = 0; i < args.Length; i++)
        {
            string arg = args[i];
            string Value() => OptionValues.Next(args, ref i);
            switch (arg)
            {
                case "-h" or "--help": help = true; return o;
                case "--config": o = o with { ConfigPath = Value() }; break;
                case "--node": o = o with { Node = Value() }; break;
                case "--kubernetes": o = o with { Kubernetes = true }; break;
                case "--kubeconfig": o = o with { Kubernetes = true, Kubeconfig = Value() }; break;
                case "--workload":
                    workloads.Add(OptionValues.NamespacedName(arg, Value()));
                    break;
                case "--state-dir": o = o with { StateDirectory = Value() }; break;
                case "--ca-cert": o = o with { CaCertPath = Value() }; break;
                case "--ca-key": o = o with { CaKeyPath = Value() }; break;
                case "--metrics": o = o with { MetricsEndpoint = OptionValues.EndpointOrOff(arg, Value()) }; break;
                case "--admin": o = o with { AdminEndpoint = OptionValues.EndpointOrOff(arg, Value()) }; break;
                case "--drain-timeout": o = o with { DrainTimeout = OptionValues.Seconds(arg, Value()) }; break;
                case "--cluster": o = o with { Cluster = Value() }; break;
                case "--readiness": o = o with { ReadinessEndpoint = OptionValues.EndpointOrOff(arg, Value()) }; break;
                case "--outbound-port": o = o with { OutboundPort = Port(arg, Value(), allowZero: true) }; break;
                case "--inbound-port": o = o with { InboundPlaintextPort = Port(arg, Value(), allowZero: true) }; break;
                case "--hbone-port": o = o with { HbonePort = Port(arg, Value(), allowZero: false) }; break;
                case "--socks5-port": o = o with { Socks5Port = Port(arg, Value(), allowZero: true) }; break;
                case "--agent-socket": o = o with { AgentSocket = Value() }; break;
                case "--log-level": o = o with { LogLevel = OptionValues.LogLevel(Value()) }; break;
                case "--log-format": o = o with { LogFormat = OptionValues.LogFormat(Value()) }; break;
                default:
                    throw new ArgumentException($"unknown option '{arg}' (see --help)");
            }
        }
        if (o.Kubernetes && o.ConfigPath is not null)
            throw new ArgumentException("--config and --kubernetes are alternatives: choose one source");
        if ((o.CaCertPath is null) != (o.CaKeyPath is null))
            throw new ArgumentException("--ca-cert and --ca-key must be given together");
        return o with { Workloads = workloads };
    }

    private static int Port(string name, string value, bool allowZero)
        => int.TryParse(value, out int p) && p >= (allowZero ? 0 : 1) && p <= 65535
            ? p
            : throw new ArgumentException($"{name} '{value}' is not a port number");
}

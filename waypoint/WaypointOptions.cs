using System.Net;
using Ambient.Hosting;

namespace Ambient.Waypoint;

/// <summary>Command-line settings of one waypoint process, parsed and validated once at start-up.</summary>
public sealed record WaypointOptions
{
    /// <summary>The YAML config file (the same file the daemons read); null means the embedded default.</summary>
    public string? ConfigPath { get; init; }
    /// <summary>Read the config from the Kubernetes API (HTTPRoute, GRPCRoute, DestinationRule, policies...) instead of a file.</summary>
    public bool Kubernetes { get; init; }
    public string? Kubeconfig { get; init; }
    /// <summary>The waypoint's own workload (<c>namespace/name</c>): its identity and address come from the config.</summary>
    public string Workload { get; init; } = "";
    /// <summary>
    /// The waypoint service (<c>namespace/name</c>) that services name in <c>waypoint:</c>; default: the Gateway named by
    /// the workload's <c>gateway.networking.k8s.io/gateway-name</c> label, else the workload's namespace and name.
    /// </summary>
    public string? Waypoint { get; init; }
    /// <summary>HBONE listener; null means the workload's first address on 15008.</summary>
    public IPEndPoint? HboneEndpoint { get; init; }
    public IPEndPoint? MetricsEndpoint { get; init; } = new(IPAddress.Any, 15020);
    public IPEndPoint? ReadinessEndpoint { get; init; } = new(IPAddress.Any, 15021);
    public string StateDirectory { get; init; } = Ambient.Hosting.StateDirectory.Default();
    public string? CaCertPath { get; init; }
    public string? CaKeyPath { get; init; }
    /// <summary>OTLP/gRPC collector for spans (e.g. http://127.0.0.1:4317); null: traces are propagated, not exported.</summary>
    public Uri? OtlpEndpoint { get; init; }
    public TimeSpan DrainTimeout { get; init; } = TimeSpan.FromSeconds(25);
    public string LogLevel { get; init; } = "info";
    public string LogFormat { get; init; } = "json";

    public const string Usage = """
        ambient-waypoint — the Ambient L7 proxy for a namespace.

        Accepts HBONE tunnels from node daemons for the services that name this waypoint
        (waypoint: NAMESPACE/NAME, the istio.io/use-waypoint label), serves HTTP/1.1, HTTP/2, gRPC and
        WebSocket inside them, applies Gateway API HTTPRoute/GRPCRoute routing, retries, timeouts, fault
        injection, circuit breaking, rate limits, RequestAuthentication (JWT) and L7 AuthorizationPolicy,
        and forwards each request over HBONE to the chosen destination pod.

        Usage: ambient-waypoint --workload NAMESPACE/NAME [options]

        Options:
          --config PATH          Config file (YAML), the same file the daemons read. Default: the embedded default.
          --kubernetes           Read workloads, services, routes and policies from the Kubernetes API instead.
          --kubeconfig PATH      Use this kubeconfig (implies --kubernetes).
          --workload NS/NAME     This waypoint's workload in the config (its identity and address): in a cluster,
                                 its pod's namespace/name. Required.
          --waypoint NS/NAME     The waypoint service (and Gateway) that services point at. Default: the Gateway in
                                 the workload's gateway.networking.k8s.io/gateway-name label (as on the pods Istio
                                 deploys for a waypoint), else the workload's NS/NAME.
          --hbone ADDR:PORT      HBONE listener. Default: the workload's address, port 15008.
          --metrics ADDR:PORT    Prometheus metrics (GET /metrics). Default: 0.0.0.0:15020; "off" disables.
          --readiness ADDR:PORT  Readiness (GET /healthz/ready). Default: 0.0.0.0:15021; "off" disables.
          --state-dir DIR        Where the mesh CA lives (shared with the daemons in local mode).
          --ca-cert PATH         Use this CA certificate (PEM); with --ca-key.
          --ca-key PATH          The CA private key (PEM) for --ca-cert.
          --otlp-endpoint URL    Export spans over OTLP/gRPC (W3C traceparent is always propagated).
          --drain-timeout SECS   On SIGTERM: readiness false, GOAWAY, requests in flight may finish. Default: 25
          --log-level LEVEL      trace, debug, info, warn, error. Default: info
          --log-format FORMAT    json or text. Default: json
          -h, --help             Show this help.

        Exit codes: 0 stopped normally, 1 runtime failure, 2 bad command line or configuration.
        """;

    /// <summary>Parses argv; throws <see cref="ArgumentException"/> naming the offending option.</summary>
    public static WaypointOptions Parse(string[] args, out bool help)
    {
        help = false;
        var o = new WaypointOptions();
        for (int i = 0; i < args.Length; i++)
        {
            string arg = args[i];
            string Value() => OptionValues.Next(args, ref i);
            switch (arg)
            {
                case "-h" or "--help": help = true; return o;
                case "--config": o = o with { ConfigPath = Value() }; break;
                case "--kubernetes": o = o with { Kubernetes = true }; break;
                case "--kubeconfig": o = o with { Kubernetes = true, Kubeconfig = Value() }; break;
                case "--workload": o = o with { Workload = OptionValues.NamespacedName(arg, Value()) }; break;
                case "--waypoint": o = o with { Waypoint = OptionValues.NamespacedName(arg, Value()) }; break;
                case "--hbone": o = o with { HboneEndpoint = OptionValues.EndpointOrOff(arg, Value()) ?? throw new ArgumentException("--hbone cannot be off") }; break;
                case "--metrics": o = o with { MetricsEndpoint = OptionValues.EndpointOrOff(arg, Value()) }; break;
                case "--readiness": o = o with { ReadinessEndpoint = OptionValues.EndpointOrOff(arg, Value()) }; break;
                case "--state-dir": o = o with { StateDirectory = Value() }; break;
                case "--ca-cert": o = o with { CaCertPath = Value() }; break;
                case "--ca-key": o = o with { CaKeyPath = Value() }; break;
                case "--otlp-endpoint":
                    var url = Value();
                    o = o with { OtlpEndpoint = Uri.TryCreate(url, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https" ? uri : throw new ArgumentException($"--otlp-endpoint '{url}' is not an http(s) URL") };
                    break;
                case "--drain-timeout": o = o with { DrainTimeout = OptionValues.Seconds(arg, Value()) }; break;
                case "--log-level": o = o with { LogLevel = OptionValues.LogLevel(Value()) }; break;
                case "--log-format": o = o with { LogFormat = OptionValues.LogFormat(Value()) }; break;
                default: throw new ArgumentException($"unknown option '{arg}' (see --help)");
            }
        }
        if (o.Workload.Length == 0) throw new ArgumentException("--workload NAMESPACE/NAME is required (see --help)");
        if (o.Kubernetes && o.ConfigPath is not null) throw new ArgumentException("--config and --kubernetes are alternatives: choose one source");
        if ((o.CaCertPath is null) != (o.CaKeyPath is null)) throw new ArgumentException("--ca-cert and --ca-key must be given together");
        return o;
    }
}

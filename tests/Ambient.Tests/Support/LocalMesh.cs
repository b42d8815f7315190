using System.Net;
using System.Text;
using Ambient.Daemon;
using Ambient.Identity;

namespace Ambient.Tests.Support;

/// <summary>A workload in a test mesh: gets a unique loopback address; its app (if any) listens on AppPort.</summary>
public sealed record TestWorkload(string Name, string Node, string ServiceAccount = "default", string Namespace = "default", string Protocol = "HBONE")
{
    public IPAddress Address { get; init; } = TestAddresses.Next();
    public string Identity => $"spiffe://cluster.local/ns/{Namespace}/sa/{ServiceAccount}";
    public IPEndPoint Socks5 => new(Address, 15080);
    public IPEndPoint Hbone => new(Address, 15008);
}

/// <summary>
/// A whole mesh on loopback: a config file, a mesh CA in a temp state directory, and real <see cref="NodeDaemon"/>s
/// (one per node, each serving its node's workloads) — the same code path as the daemon binary, in-process.
/// </summary>
public sealed class LocalMesh : IAsyncDisposable
{
    private readonly Dictionary<string, NodeDaemon> _daemons = new();

    public LocalMesh()
    {
        Directory.CreateDirectory(Root);
        using var _ = MeshCa.LoadOrCreate(StateDirectory); // created once, before daemons race to create it
    }

    public string Root { get; } = Path.Combine(Path.GetTempPath(), "ambient-test-" + Guid.NewGuid().ToString("N")[..12]);
    public string StateDirectory => Path.Combine(Root, "state");
    public string ConfigPath => Path.Combine(Root, "ambient.yaml");
    public LogCapture Logs { get; } = new();
    public IReadOnlyDictionary<string, NodeDaemon> Daemons => _daemons;

    public MeshCa LoadCa() => MeshCa.LoadOrCreate(StateDirectory);

    /// <summary>Config text for workloads, one service (VIP → workloads with <paramref name="serviceWorkloads"/>), and extra YAML.</summary>
    public static string Config(IEnumerable<TestWorkload> workloads, (string Name, IPAddress Vip, int Port, int TargetPort, string[] Endpoints)? service = null, string extra = "")
    {
        var sb = new StringBuilder("trustDomain: cluster.local\nworkloads:\n");
        foreach (var w in workloads)
        {
            sb.Append($"  - name: {w.Name}\n    namespace: {w.Namespace}\n    serviceAccount: {w.ServiceAccount}\n    addresses: [{w.Address}]\n    node: {w.Node}\n    protocol: {w.Protocol}\n    labels: {{app: {w.Name}}}\n");
            if (service is { } s && s.Endpoints.Contains(w.Name))
                sb.Append($"    services:\n      default/{s.Name}.default.svc.cluster.local:\n        {s.Port}: {s.TargetPort}\n");
        }
        if (service is { } svc)
            sb.Append($"services:\n  - name: {svc.Name}\n    namespace: default\n    vips: [{svc.Vip}]\n    ports:\n      {svc.Port}: {svc.TargetPort}\n");
        sb.Append(extra);
        return sb.ToString();
    }

    public void WriteConfig(string yaml) => File.WriteAllText(ConfigPath, yaml);

    /// <summary>Starts a daemon for each node named in the config's workloads.</summary>
    public async Task StartAsync(params string[] nodes)
    {
        foreach (var node in nodes)
        {
            var daemon = new NodeDaemon(new DaemonOptions
            {
                ConfigPath = ConfigPath,
                Node = node,
                StateDirectory = StateDirectory,
                ReadinessEndpoint = null, MetricsEndpoint = null, AdminEndpoint = null,
            }, Logs);
            await daemon.StartAsync();
            _daemons[node] = daemon;
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var d in _daemons.Values)
            await d.DisposeAsync();
        try { Directory.Delete(Root, recursive: true); } catch (IOException) { }
    }
}

using System.Net;
using Ambient.Harness.Beds;
using Ambient.TestBed;

namespace Ambient.Harness.Configs;

/// <summary>
/// The L7 mesh path: the server is reached through a service whose waypoint runs in its own pod on node2, so each
/// request goes client → node1's daemon (intercepted, HBONE) → ambient-waypoint (HTTP routing, HBONE again) →
/// node2's daemon → server. Three proxies against nginx's one, all with mutual TLS between them. The service has
/// the server's HTTP/1.1 port and its h2c port: the waypoint forwards with the client's protocol (as Istio's
/// auto protocol does), so an HTTP/2 client's requests reach the server as HTTP/2 too.
/// </summary>
public sealed class WaypointPath : Configuration
{
    private static readonly IPAddress Vip = IPAddress.Parse("10.96.200.10");
    private AmbientMesh? _mesh;
    private NetnsProcess? _waypoint;

    public override string Name => "ambient-waypoint";

    public override string Description => "Ambient daemons (JIT) with a waypoint (JIT) in its own pod: client → daemon → waypoint → daemon → server, HBONE at each hop";

    public override bool CarriesRawTcp => false;

    public override bool IsHttpProxy => true;

    public override IReadOnlyList<int> ProxyPids =>
        _mesh is null || _waypoint is null ? [] : [_mesh.Daemon(Bed.Node1).Id, _mesh.Daemon(Bed.Node2).Id, _waypoint.Id];

    public override IPEndPoint Target(int serverPort) => new(Vip, serverPort);

    protected override async Task StartProxiesAsync(Bed bed, CancellationToken cancel)
    {
        var waypointPod = bed.Node2.AddPod("default", "waypoint", "waypoint");
        var binaries = AmbientBinaries.NextTo(AppContext.BaseDirectory);
        _mesh = await AmbientMesh.StartAsync(bed.Cluster, binaries, services: []);
        const int port = Ports.Http, h2c = Ports.H2c;
        File.WriteAllText(_mesh.ConfigPath, AmbientMesh.Config(bed.Cluster, [], [], $$$"""
            services:
              - {name: waypoint, namespace: default, vips: [10.96.200.11], ports: {15008: 15008}, selector: {app: waypoint}}
              - {name: server, namespace: default, vips: [{{{Vip}}}], ports: {{{{port}}}: {{{port}}}, {{{h2c}}}: {{{h2c}}}}, selector: {app: server}, waypoint: default/waypoint}

            """));
        foreach (var pod in new[] { bed.Client, bed.Server })
        {
            var result = _mesh.Add(pod);
            if (result.ExitCode != 0)
                throw new InvalidOperationException($"enrolling {pod} failed: {result.StdOut}{result.StdErr}");
        }
        // Warning level: one access-log line per request would measure the console, not the proxy.
        _waypoint = waypointPod.Start("dotnet", [Path.Combine(AppContext.BaseDirectory, "ambient-waypoint.dll"), "--config", _mesh.ConfigPath,
            "--workload", "default/waypoint", "--state-dir", _mesh.StateDirectory, "--log-level", "warn", "--log-format", "text"]);
        // It logs at warn (one access-log line per request would measure the console), so ask its readiness port.
        for (var until = DateTime.UtcNow.AddSeconds(60); ; await Task.Delay(200, cancel))
        {
            if (waypointPod.Exec($"curl -s -o /dev/null -w %{{http_code}} http://{waypointPod.IP}:15021/healthz/ready").StdOut == "200") break;
            if (_waypoint.HasExited || DateTime.UtcNow > until)
                throw new InvalidOperationException($"the waypoint did not become ready:\n{_waypoint.Output}");
        }
    }

    protected override async ValueTask StopProxiesAsync()
    {
        _waypoint?.Dispose();
        if (_mesh is not null) await _mesh.DisposeAsync();
    }
}

using System.Net;
using Ambient.Harness.Beds;
using Ambient.TestBed;

namespace Ambient.Harness.Configs;

/// <summary>
/// The real mesh, exactly as the interception tests and ambient-local run it: an ambient-daemon (in-pod mode) and
/// an ambient-cni-agent per node, both pods enrolled through the CNI plugin. The client dials the server pod's own
/// address; its pod's redirect rules hand the connection to node1's daemon, which carries it in HBONE (mutual TLS
/// 1.3, HTTP/2 CONNECT) to node2's daemon, which connects to the server. With <paramref name="aotDaemon"/> the
/// daemons are the NativeAOT build instead of the JIT one.
/// </summary>
public sealed class AmbientPath(string? aotDaemon = null) : Configuration
{
    private AmbientMesh? _mesh;

    public override string Name => aotDaemon is null ? "ambient" : "ambient-aot";

    public override string Description => aotDaemon is null
        ? "Ambient daemons (JIT), pods enrolled, transparent interception, HBONE (mTLS 1.3 + HTTP/2 CONNECT) between nodes"
        : "the same with the daemons published as NativeAOT";

    public override IReadOnlyList<int> ProxyPids =>
        _mesh is null ? [] : new[] { Bed.Node1, Bed.Node2 }.Select(n => _mesh.Daemon(n).Id).ToArray();

    /// <summary>The agents: control plane only (enrolment), not in the data path; reported apart.</summary>
    public IReadOnlyList<int> AgentPids =>
        _mesh is null ? [] : new[] { Bed.Node1, Bed.Node2 }.Select(n => _mesh.Agent(n).Id).ToArray();

    public override IPEndPoint Target(int serverPort) => new(Bed.Server.IP, serverPort);

    protected override async Task StartProxiesAsync(Bed bed, CancellationToken cancel)
    {
        var binaries = AmbientBinaries.NextTo(AppContext.BaseDirectory);
        using (aotDaemon is null ? null : DotnetShim.Activate(bed.WorkDirectory))
        {
            _mesh = await AmbientMesh.StartAsync(bed.Cluster, binaries with { Daemon = aotDaemon ?? binaries.Daemon }, services: []);
            foreach (var pod in new[] { bed.Client, bed.Server })
            {
                var result = _mesh.Add(pod);
                if (result.ExitCode != 0)
                    throw new InvalidOperationException($"enrolling {pod} failed: {result.StdOut}{result.StdErr}");
            }
        }
    }

    protected override async ValueTask StopProxiesAsync()
    {
        if (_mesh is not null) await _mesh.DisposeAsync();
    }
}

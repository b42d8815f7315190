using System.Net;
using Ambient.Harness.Beds;
using Ambient.TestBed;

namespace Ambient.Harness.Configs;

/// <summary>
/// HAProxy 2.6 on each node as the off-the-shelf stand-in for a node proxy pair: client → HAProxy on node1 →
/// HAProxy on node2 → server. With <c>tls</c> the hop between the nodes is mutual TLS 1.3 with ECDSA P-256
/// certificates — the closest off-the-shelf equivalent of an HBONE tunnel (minus HTTP/2 multiplexing: HAProxy
/// opens one TLS connection per client connection).
/// </summary>
public sealed class HaproxyPair(bool tls) : Configuration
{
    /// <summary>node2 listens on each server port + this, so the two hops are told apart in captures.</summary>
    private const int HopPortOffset = 10_000;

    private readonly List<NetnsProcess> _processes = [];

    public override string Name => tls ? "haproxy-tls" : "haproxy-tcp";

    public override string Description => tls
        ? "HAProxy 2.6 pair, TCP mode, mutual TLS 1.3 (ECDSA P-256) between node1 and node2"
        : "HAProxy 2.6 pair, TCP mode, plaintext between node1 and node2";

    public override IReadOnlyList<int> ProxyPids => _processes.Select(p => p.Id).ToArray();

    public override IPEndPoint Target(int serverPort) => new(Bed.Node1.IP, serverPort);

    protected override async Task StartProxiesAsync(Bed bed, CancellationToken cancel)
    {
        var dir = Path.Combine(bed.WorkDirectory, "haproxy");
        var files = tls ? TlsFiles.Create(dir, "server.perf.local") : null;
        var hopTls = tls ? HaproxyConfigFile.HopTls.Originate : HaproxyConfigFile.HopTls.None;
        int maxConnections = (int)Math.Min(200_000, (Native.OpenFileLimit() - 200) / 2);
        var node1 = HaproxyConfigFile.Build(
            Ports.All.Select(p => (new IPEndPoint(bed.Node1.IP, p), new IPEndPoint(bed.Node2.IP, p + HopPortOffset))),
            HaproxyConfigFile.HopTls.None, hopTls, files, maxConnections);
        var node2 = HaproxyConfigFile.Build(
            Ports.All.Select(p => (new IPEndPoint(bed.Node2.IP, p + HopPortOffset), new IPEndPoint(bed.Server.IP, p))),
            tls ? HaproxyConfigFile.HopTls.Terminate : HaproxyConfigFile.HopTls.None, HaproxyConfigFile.HopTls.None, files, maxConnections);
        _processes.Add(Start(bed.Node1, dir, "node1.cfg", node1));
        _processes.Add(Start(bed.Node2, dir, "node2.cfg", node2));
        await Task.Delay(300, cancel); // binding is immediate; a config error shows as an early exit
        foreach (var p in _processes)
            if (p.HasExited) throw new InvalidOperationException($"haproxy in {p.Namespace} exited: {p.Output.Trim()}");
    }

    private static NetnsProcess Start(NetworkNamespace ns, string dir, string fileName, string config)
    {
        Directory.CreateDirectory(dir);
        var path = Path.Combine(dir, fileName);
        File.WriteAllText(path, config);
        return ns.Start("haproxy", ["-db", "-f", path]); // -db: foreground, no daemon
    }

    protected override ValueTask StopProxiesAsync()
    {
        foreach (var p in _processes) p.Dispose();
        return ValueTask.CompletedTask;
    }
}

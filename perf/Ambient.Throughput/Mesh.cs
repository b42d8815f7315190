using System.Net;
using Ambient.Daemon;
using Microsoft.Extensions.Logging;

namespace Ambient.Throughput;

/// <summary>
/// Two real node daemons in this process, as two nodes of one mesh: workload "client" on node-a and workload
/// "server" on node-b, each on its own loopback address, sharing a mesh CA through one state directory.
/// The sink runs on the server workload's address, so daemon A tunnels to it through daemon B.
/// </summary>
internal sealed class TwoNodeMesh : IAsyncDisposable
{
    public const int HbonePort = 15008;
    public const int Socks5Port = 15080;

    private readonly string _directory;
    private readonly List<NodeDaemon> _daemons = new();

    private TwoNodeMesh(string directory, IPAddress a, IPAddress b)
    {
        _directory = directory;
        ClientAddress = a;
        ServerAddress = b;
    }

    public IPAddress ClientAddress { get; }
    public IPAddress ServerAddress { get; }
    public IPEndPoint Socks5EndPoint => new(ClientAddress, Socks5Port);

    /// <summary>Picks a free pair of 127.x addresses (a run per pid), writes the config and starts both daemons.</summary>
    public static async Task<TwoNodeMesh> StartAsync(ILoggerFactory logs, TextWriter progress)
    {
        Exception? last = null;
        for (int attempt = 0; attempt < 3; attempt++)
        {
            int n = (Environment.ProcessId + attempt * 37) % 250 + 1;
            var a = IPAddress.Parse($"127.77.{n}.1");
            var b = IPAddress.Parse($"127.77.{n}.2");
            var directory = Path.Combine(Path.GetTempPath(), $"ambient-throughput-{Environment.ProcessId}-{attempt}");
            Directory.CreateDirectory(directory);
            var mesh = new TwoNodeMesh(directory, a, b);
            try
            {
                await mesh.StartDaemonsAsync(logs).ConfigureAwait(false);
                return mesh;
            }
            catch (DaemonStartException e)
            {
                last = e;
                progress.WriteLine($"  daemons on {a}/{b} did not start ({e.Message}); trying other addresses");
                await mesh.DisposeAsync().ConfigureAwait(false);
            }
        }
        throw new InvalidOperationException("could not start the two daemons", last);
    }

    private async Task StartDaemonsAsync(ILoggerFactory logs)
    {
        var config = Path.Combine(_directory, "ambient.yaml");
        await File.WriteAllTextAsync(config, $"""
            # Written by ambient-throughput: one workload per node.
            trustDomain: cluster.local
            workloads:
              - name: client
                namespace: bench
                serviceAccount: client
                addresses: [{ClientAddress}]
                node: node-a
              - name: server
                namespace: bench
                serviceAccount: server
                addresses: [{ServerAddress}]
                node: node-b
            """).ConfigureAwait(false);
        foreach (var node in (string[])["node-a", "node-b"])
        {
            var daemon = new NodeDaemon(new DaemonOptions
            {
                ConfigPath = config,
                Node = node,
                StateDirectory = Path.Combine(_directory, "state"), // the first daemon creates the CA, the second loads it
                ReadinessEndpoint = null, MetricsEndpoint = null, AdminEndpoint = null,
                HbonePort = HbonePort,
                Socks5Port = Socks5Port,
                OutboundPort = 0,          // needs iptables redirection; SOCKS5 is the path without interception
                InboundPlaintextPort = 0,
            }, logs);
            _daemons.Add(daemon);
            await daemon.StartAsync().ConfigureAwait(false);
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var d in _daemons)
        {
            try { await d.DisposeAsync().ConfigureAwait(false); }
            catch (Exception) { /* best effort on the way out */ }
        }
        _daemons.Clear();
        try { Directory.Delete(_directory, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}

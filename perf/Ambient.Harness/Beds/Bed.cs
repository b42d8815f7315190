using System.Net;
using System.Net.Sockets;
using Ambient.TestBed;

namespace Ambient.Harness.Beds;

/// <summary>
/// One configuration's test bed: its own cluster (network namespaces) with node1 running the client pod and node2
/// the server pod (nginx, iperf3, the connection sink). Each configuration gets a bed of its own so all of them can
/// stay up for the whole run and be measured in alternation without interfering (the mesh's interception, say,
/// would otherwise capture the HAProxy traffic too). Addresses are the same in every bed; they never meet.
/// </summary>
public sealed class Bed : IDisposable
{
    public const string Prefix = "ambperf";

    private readonly Cluster _cluster;
    private readonly List<NetnsProcess> _servers = [];

    private Bed(Cluster cluster, string workDirectory)
    {
        _cluster = cluster;
        WorkDirectory = workDirectory;
        Node1 = cluster.AddNode("node1");
        Node2 = cluster.AddNode("node2");
        Client = Node1.AddPod("default", "client", "client");
        Server = Node2.AddPod("default", "server", "server");
        Sink = new ConnectionSink(Server.CreateSocket(new IPEndPoint(IPAddress.Any, Ports.Sink), listen: true, backlog: 4096));
    }

    public Cluster Cluster => _cluster;
    public Node Node1 { get; }
    public Node Node2 { get; }
    public Pod Client { get; }
    public Pod Server { get; }
    public ConnectionSink Sink { get; }
    public string WorkDirectory { get; }

    public static Bed Create(string name)
    {
        var dir = Directory.CreateTempSubdirectory($"ambient-perf-{name}-").FullName;
        var cluster = Cluster.Create(new ClusterOptions { Prefix = Prefix });
        try
        {
            var bed = new Bed(cluster, dir);
            foreach (var ns in new NetworkNamespace[] { bed.Node1, bed.Node2, bed.Client, bed.Server })
                TuneForManyConnections(ns);
            bed._servers.Add(ServerApps.StartNginx(bed.Server, Path.Combine(dir, "nginx")));
            bed._servers.Add(ServerApps.StartIperf(bed.Server));
            return bed;
        }
        catch
        {
            cluster.Dispose();
            throw;
        }
    }

    /// <summary>Waits until nginx and iperf3 listen in the server pod.</summary>
    public async Task WaitForServersAsync(CancellationToken cancel)
    {
        foreach (var port in new[] { Ports.Http, Ports.Iperf })
        {
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(15);
            while (true)
            {
                using var s = Server.CreateSocket();
                try
                {
                    await s.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port), cancel);
                    break;
                }
                catch (SocketException) when (DateTime.UtcNow < deadline)
                {
                    await Task.Delay(100, cancel);
                }
            }
        }
    }

    /// <summary>
    /// Each namespace has its own TCP settings. The connection-rate test leaves TIME_WAIT sockets behind and the
    /// idle test opens 10,000 connections per hop: give every hop the full port range and TIME_WAIT reuse, the same
    /// for every configuration.
    /// </summary>
    private static void TuneForManyConnections(NetworkNamespace ns) => ns.RunInNetns(() =>
    {
        File.WriteAllText("/proc/sys/net/ipv4/ip_local_port_range", "10000 65000");
        File.WriteAllText("/proc/sys/net/ipv4/tcp_tw_reuse", "1");
        File.WriteAllText("/proc/sys/net/core/somaxconn", "8192");
        File.WriteAllText("/proc/sys/net/ipv4/tcp_max_syn_backlog", "8192");
    });

    public void Dispose()
    {
        Sink.Dispose();
        foreach (var s in _servers) s.Dispose();
        _cluster.Dispose();
        try { Directory.Delete(WorkDirectory, recursive: true); } catch (IOException) { }
    }
}

using System.Net;
using System.Net.Sockets;
using Ambient.TestBed;

namespace Ambient.Tests.TestBed;

/// <summary>Commands, long-running processes, sockets made on dedicated threads, and packet captures.</summary>
public sealed class ProcessAndCaptureTests
{
    [Fact]
    public async Task A_server_started_in_a_pod_runs_in_its_namespace_answers_probes_and_is_gone_after_dispose()
    {
        var dir = Directory.CreateTempSubdirectory("ambient-testbed-nginx-").FullName;
        try
        {
            var cluster = Bed.NewCluster(nodes: 2, podsPerNode: 1);
            NetnsProcess server;
            int[] serverPids;
            using (cluster)
            {
                var (client, pod) = (cluster.Pods[0], cluster.Pods[1]);
                server = StartHttpServer(pod, dir, 8080);

                // Kubelet-style probe from the pod's node, and a request from a pod on the other node.
                var probe = await RetryAsync(() => pod.Node.Exec($"curl -sf --max-time 2 http://{pod.IP}:8080/"), r => r.Succeeded);
                Assert.True(probe.Succeeded, $"probe failed: {probe.StdErr}\n{server.Output}");
                Assert.Contains("hello", probe.StdOut);
                Assert.Contains("hello", client.ExecOrThrow($"curl -sf --max-time 2 http://{pod.IP}:8080/"));
                // Not listening anywhere else: nothing answers on the node's address or in the host namespace.
                Assert.False(pod.Node.Exec($"curl -sf --max-time 2 http://{pod.Node.IP}:8080/").Succeeded);

                serverPids = pod.ProcessIds().ToArray();
                Assert.Contains(server.Id, serverPids);
                Assert.Equal(pod.NetnsId, new FileInfo($"/proc/{server.Id}/ns/net").LinkTarget);
                Assert.NotEqual(new FileInfo("/proc/self/ns/net").LinkTarget, pod.NetnsId);
                Assert.Empty(client.ProcessIds());
            }
            Assert.True(server.HasExited);
            Assert.All(serverPids, pid => Assert.False(Bed.ProcessAlive(pid), $"pid {pid} survived"));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void Exec_runs_inside_reports_exit_codes_and_the_throwing_variant_throws()
    {
        using var cluster = Bed.NewCluster(nodes: 1, podsPerNode: 1);
        var pod = cluster.Pods[0];
        Assert.Contains($"inet {pod.IP}/32", pod.ExecOrThrow("ip -4 -o addr show dev eth0"));
        Assert.Contains($"inet {pod.IP}/32", pod.Exec("ip", ["-4", "-o", "addr", "show", "dev", "eth0"]).StdOut);
        var failed = pod.Exec("echo out; echo err >&2; exit 3");
        Assert.Equal(new ExecResult(3, "out\n", "err\n"), failed);
        var e = Assert.Throws<TestBedException>(() => pod.ExecOrThrow("ls /no/such/path"));
        Assert.Contains("/no/such/path", e.Message);
        Assert.Throws<TimeoutException>(() => pod.Exec("sleep 5", TimeSpan.FromMilliseconds(300)));
        // A background child that keeps stdout open does not hang Exec.
        var background = pod.Exec("sleep 3 & echo started");
        Assert.Equal("started\n", background.StdOut);
    }

    [Fact]
    public async Task RunInNetns_creates_sockets_inside_while_pool_threads_stay_in_the_host()
    {
        using var cluster = Bed.NewCluster(nodes: 1, podsPerNode: 1);
        var pod = cluster.Pods[0];
        var hostNs = new FileInfo("/proc/self/ns/net").LinkTarget;

        var (seen, listener, client) = pod.RunInNetns(() =>
        {
            var l = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            l.Bind(new IPEndPoint(pod.IP, 9000));
            l.Listen();
            var c = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            return (new FileInfo("/proc/thread-self/ns/net").LinkTarget, l, c);
        });
        using (listener)
        using (client)
        {
            Assert.Equal(pod.NetnsId, seen);
            var accept = listener.AcceptAsync();
            await client.ConnectAsync(new IPEndPoint(pod.IP, 9000));
            using var accepted = await accept;
            Assert.Equal(pod.IP, ((IPEndPoint)accepted.RemoteEndPoint!).Address);
        }

        // After all that async socket work, pool threads and new sockets are still in the host namespace.
        var (poolNs, bindError) = await Task.Run(() =>
        {
            using var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            var error = Record.Exception(() => s.Bind(new IPEndPoint(pod.IP, 0)));
            return (new FileInfo("/proc/thread-self/ns/net").LinkTarget, error);
        });
        Assert.Equal(hostNs, poolNs);
        Assert.Equal(SocketError.AddressNotAvailable, Assert.IsType<SocketException>(bindError).SocketErrorCode);
        Assert.Equal(hostNs, new FileInfo("/proc/thread-self/ns/net").LinkTarget);

        var e = Assert.Throws<InvalidOperationException>(() => pod.RunInNetns(() => throw new InvalidOperationException("inside")));
        Assert.Equal("inside", e.Message);
    }

    [Fact]
    public async Task Capture_sees_plaintext_between_nodes_on_the_bridge_and_the_node_but_not_at_a_bystander()
    {
        using var cluster = Bed.NewCluster(nodes: 2, podsPerNode: 2);
        var (client, server, bystander) = (cluster.Nodes[0].Pods[0], cluster.Nodes[1].Pods[0], cluster.Nodes[0].Pods[1]);
        if (Tools.Which("tcpdump") is null)
        {
            Assert.Throws<ToolMissingException>(() => cluster.Capture());
            return;
        }
        await using var echo = new TagServer(server, new IPEndPoint(IPAddress.Any, 8080), "srv");
        using var wire = cluster.Capture("tcp port 8080");
        using var nodeUplink = cluster.Nodes[0].Capture("tcp");
        using var aside = bystander.Capture();
        var marker = "plaintext-marker-" + Guid.NewGuid().ToString("N");

        Assert.StartsWith("srv saw", await Wire.SendAsync(client, new IPEndPoint(server.IP, 8080), marker));

        var onWire = wire.Stop();
        Assert.True(onWire.Contains(marker), onWire.ToText());
        Assert.True(onWire.Contains($"srv saw {client.IP}"), "the reply crossed the bridge too");
        Assert.Equal(1, onWire.LinkType); // Ethernet
        Assert.True(onWire.Packets.Count >= 6, $"{onWire.Packets.Count} packets"); // handshake, data both ways, FINs
        Assert.Contains($"{client.IP}.", onWire.ToText());
        Assert.Contains($"{server.IP}.8080", onWire.ToText());
        Assert.True(nodeUplink.Stop().Contains(marker));
        Assert.False(aside.Stop().Contains(marker));
        Assert.Same(onWire, wire.Stop()); // idempotent
        Assert.True(File.Exists(wire.PcapPath));
        wire.Dispose();
        Assert.False(File.Exists(wire.PcapPath)); // temporary pcap deleted

        Assert.Throws<TestBedException>(() => cluster.Capture("this is not a filter"));
    }

    private static NetnsProcess StartHttpServer(Pod pod, string dir, int port)
    {
        if (Tools.Which("nginx") is not null)
            return Nginx.Start(pod, dir, port);
        File.WriteAllText(Path.Combine(dir, "index.html"), $"hello from {pod.Name}\n");
        return pod.Start("python3", ["-m", "http.server", port.ToString(), "--directory", dir]);
    }

    private static async Task<ExecResult> RetryAsync(Func<ExecResult> run, Func<ExecResult, bool> ok)
    {
        ExecResult r = run();
        for (int i = 0; i < 50 && !ok(r); i++)
        {
            await Task.Delay(100);
            r = run();
        }
        return r;
    }
}

using System.Diagnostics;
using System.Net;
using Ambient.TestBed;

namespace Ambient.Tests.TestBed;

/// <summary>Tear-down, isolation between clusters, and clean-up of what crashed runs leave behind.</summary>
public sealed class LifecycleTests
{
    [Fact]
    public void Dispose_removes_every_namespace_interface_and_process_and_never_touches_the_host()
    {
        Bed.RequireRoot();
        var hostLinks = Bed.HostLinks();
        using var cluster = Bed.NewCluster(nodes: 2, podsPerNode: 2);
        // Other tests build clusters in parallel: look at this cluster's names only.
        var ours = Bed.NetnsNames().Where(n => n.StartsWith(cluster.Name, StringComparison.Ordinal)).Order().ToArray();
        Assert.Equal(cluster.Namespaces.Select(n => n.NetnsName).Order(), ours);
        Assert.Equal(7, ours.Length); // network + 2 nodes + 4 pods
        Assert.All(ours, n => Assert.StartsWith(cluster.Name + "_", n));
        Assert.True(File.Exists(Path.Combine(Cluster.LockDirectory, cluster.Name + ".lock")));
        Assert.Equal(hostLinks, Bed.HostLinks()); // the whole topology lives outside the host namespace

        var pod = cluster.Pods[0];
        var tracked = pod.Start("sleep", ["600"]);
        // A daemonized process no Process object knows about.
        cluster.Nodes[1].ExecOrThrow("setsid sleep 601 </dev/null >/dev/null 2>&1 &");
        int stray = 0;
        for (int i = 0; i < 100 && stray == 0; i++)
        {
            stray = cluster.Nodes[1].ProcessIds().FirstOrDefault(p => File.ReadAllText($"/proc/{p}/cmdline").Contains("601"));
            if (stray == 0) Thread.Sleep(20);
        }
        Assert.NotEqual(0, stray);
        Assert.Contains(tracked.Id, pod.ProcessIds());

        var clock = Stopwatch.StartNew();
        cluster.Dispose();
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"tear-down took {clock.Elapsed}");

        Assert.DoesNotContain(Bed.NetnsNames(), n => n.StartsWith(cluster.Name, StringComparison.Ordinal));
        Assert.Equal(hostLinks, Bed.HostLinks());
        Assert.False(File.Exists(Path.Combine(Cluster.LockDirectory, cluster.Name + ".lock")));
        Assert.True(tracked.HasExited);
        Assert.False(Bed.ProcessAlive(stray));
        Assert.All(cluster.Namespaces, ns => Assert.True(ns.IsDeleted));

        cluster.Dispose(); // idempotent
        Assert.True(cluster.IsDisposed);
        Assert.Throws<ObjectDisposedException>(() => cluster.AddNode("node3"));
        Assert.Throws<ObjectDisposedException>(() => pod.Exec("true"));
    }

    [Fact]
    public void Dispose_strips_the_interfaces_even_from_namespaces_something_still_pins()
    {
        using var cluster = Bed.NewCluster(nodes: 2, podsPerNode: 1);
        var (node, pod) = (cluster.Nodes[0], cluster.Pods[0]);
        // A leaked socket and an open namespace fd keep both namespaces alive after their names are gone.
        using var leakedSocket = pod.CreateSocket(new IPEndPoint(pod.IP, 7000), listen: true);
        using var podFd = File.OpenHandle(pod.NetnsPath);
        using var nodeFd = File.OpenHandle(node.NetnsPath);
        Assert.Equal(["eth0", "lo"], Bed.LinksIn(podFd));
        Assert.Equal(["eth0", "lo", pod.HostVeth], Bed.LinksIn(nodeFd));

        cluster.Dispose();

        Assert.False(File.Exists(pod.NetnsPath));
        Assert.Equal(["lo"], Bed.LinksIn(podFd));
        Assert.Equal(["lo"], Bed.LinksIn(nodeFd));
    }

    [Fact]
    public async Task Two_clusters_with_the_same_addresses_run_side_by_side()
    {
        var build = new[] { 1, 2 }.Select(_ => Task.Run(() => Bed.NewCluster(nodes: 2, podsPerNode: 1))).ToArray();
        var clusters = await Task.WhenAll(build);
        using var first = clusters[0];
        using var second = clusters[1];
        Assert.NotEqual(first.Id, second.Id);
        Assert.Empty(first.Namespaces.Select(n => n.NetnsName).Intersect(second.Namespaces.Select(n => n.NetnsName)));
        // Same addressing plan, same server address and port in both: each client reaches its own cluster.
        Assert.Equal(first.Pods[1].IP, second.Pods[1].IP);
        await using var s1 = new TagServer(first.Pods[1], new IPEndPoint(first.Pods[1].IP, 8080), first.Id);
        await using var s2 = new TagServer(second.Pods[1], new IPEndPoint(second.Pods[1].IP, 8080), second.Id);
        var target = new IPEndPoint(first.Pods[1].IP, 8080);
        Assert.StartsWith(first.Id + " saw ", await Wire.SendAsync(first.Pods[0], target, "1"));
        Assert.StartsWith(second.Id + " saw ", await Wire.SendAsync(second.Pods[0], target, "2"));

        first.Dispose();
        Assert.StartsWith(second.Id + " saw ", await Wire.SendAsync(second.Pods[0], target, "3"));
        Assert.All(second.Namespaces, ns => Assert.True(File.Exists(ns.NetnsPath)));
    }

    [Fact]
    public void A_second_cluster_with_the_id_of_a_live_one_is_refused()
    {
        var id = "dup" + Random.Shared.Next(100000);
        using var live = Bed.NewCluster(options: new ClusterOptions { Prefix = Bed.Prefix, Id = id });
        var e = Assert.Throws<TestBedException>(() => Cluster.Create(new ClusterOptions { Prefix = Bed.Prefix, Id = id }));
        Assert.Contains("in use", e.Message);
        Assert.True(File.Exists(live.Network.NetnsPath)); // the refused attempt did not tear the live one down
    }

    [Fact]
    public void CleanupStale_removes_leftovers_of_dead_runs_and_spares_live_clusters_and_others()
    {
        Bed.RequireRoot();
        var prefix = "ambc" + Random.Shared.Next(1000, 9999);
        using var live = Cluster.Create(new ClusterOptions { Prefix = prefix });
        live.AddNode("node1").AddPod("default", "sleep");

        // A run that "crashed": its lock is released (as when the process dies), its namespaces and a process stay.
        var crashed = Cluster.Create(new ClusterOptions { Prefix = prefix });
        crashed.AddNode("node1").AddPod("default", "echo");
        var orphan = crashed.Pods[0].Start("sleep", ["600"]);
        var crashedNames = crashed.Namespaces.Select(n => n.NetnsName).ToArray();
        crashed.SimulateCrash();

        // Leftovers of an older run without a lock file, with a veth pair between them.
        var bare = $"{prefix}-old1_node_x";
        var barePod = $"{prefix}-old1_pod_default_y";
        Run($"ip netns add {bare}");
        Run($"ip netns add {barePod}");
        Run($"ip -n {bare} link add veth0 type veth peer name eth0 netns {barePod}");
        // A lock file whose namespaces are already gone.
        File.WriteAllText(Path.Combine(Cluster.LockDirectory, $"{prefix}-gone.lock"), "");
        // Not ours: another prefix that merely starts the same, and the NetNs helper's "amb-xxxx" style.
        var foreign = new[] { $"{prefix}x-old1_net", $"{prefix}-nounderscore" };
        foreach (var f in foreign) Run($"ip netns add {f}");
        try
        {
            var removed = Cluster.CleanupStale(prefix);

            Assert.Equal(crashedNames.Append(bare).Append(barePod).Order(), removed.Order());
            var left = Bed.NetnsNames();
            Assert.Empty(left.Intersect(removed));
            Assert.All(live.Namespaces, ns => Assert.Contains(ns.NetnsName, left));
            Assert.All(foreign, f => Assert.Contains(f, left));
            Assert.False(Bed.ProcessAlive(orphan.Id));
            Assert.False(File.Exists(Path.Combine(Cluster.LockDirectory, $"{prefix}-gone.lock")));
            Assert.False(File.Exists(Path.Combine(Cluster.LockDirectory, crashed.Name + ".lock")));
            Assert.True(File.Exists(Path.Combine(Cluster.LockDirectory, live.Name + ".lock")));
            Assert.Equal("1", live.Nodes[0].ExecOrThrow("cat /proc/sys/net/ipv4/ip_forward").Trim());

            Assert.Empty(Cluster.CleanupStale(prefix)); // nothing more to do
        }
        finally
        {
            foreach (var f in foreign) Run($"ip netns del {f}");
            crashed.Dispose(); // no-op after the simulated crash
            Cluster.CleanupStale(prefix); // if an assertion failed before the clean-up under test
        }
    }

    private static void Run(string commandLine)
    {
        var psi = new ProcessStartInfo("/bin/sh", ["-c", commandLine]) { RedirectStandardError = true };
        using var p = Process.Start(psi)!;
        var err = p.StandardError.ReadToEnd();
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, $"{commandLine}: {err}");
    }
}

using System.Net;
using Ambient.TestBed;

namespace Ambient.Tests.TestBed;

/// <summary>Connectivity and the addressing plan of a two-node cluster built from real network namespaces.</summary>
public sealed class TopologyTests
{
    [Fact]
    public async Task Every_pod_reaches_every_other_pod_across_nodes_and_on_the_same_node()
    {
        using var cluster = Bed.NewCluster(nodes: 2, podsPerNode: 2);
        var pods = cluster.Pods;
        Assert.Equal(4, pods.Count);
        var servers = pods.Select(p => new TagServer(p, new IPEndPoint(IPAddress.Any, 8080), p.Name)).ToList();
        try
        {
            // 12 ordered pairs: 4 on the same node, 8 across nodes. Listener and client sockets are C# sockets
            // created inside the pods' namespaces; the reply proves data both ways and that no NAT is involved.
            var pairs = from a in pods from b in pods where a != b select (a, b);
            await Task.WhenAll(pairs.Select(async pair =>
            {
                var (a, b) = pair;
                var reply = await Wire.SendAsync(a, new IPEndPoint(b.IP, 8080), $"hello from {a.Name}");
                Assert.Equal($"{b.Name} saw {a.IP}: hello from {a.Name}", reply);
            }));
        }
        finally
        {
            foreach (var s in servers) await s.DisposeAsync();
        }
    }

    [Fact]
    public async Task Node_reaches_its_pods_like_a_kubelet_probe_and_pods_reach_nodes()
    {
        using var cluster = Bed.NewCluster(nodes: 2, podsPerNode: 1);
        var (node1, node2) = (cluster.Nodes[0], cluster.Nodes[1]);
        var (pod1, pod2) = (node1.Pods[0], node2.Pods[0]);
        await using var s1 = new TagServer(pod1, new IPEndPoint(IPAddress.Any, 8080), "pod1");
        await using var s2 = new TagServer(pod2, new IPEndPoint(IPAddress.Any, 8080), "pod2");
        await using var daemon2 = new TagServer(node2, new IPEndPoint(IPAddress.Any, 15021), "node2");

        // Kubelet path: from the node's own namespace to its pod; the source is the pods' gateway on the veth.
        Assert.Equal($"pod1 saw {node1.PodGateway}: probe", await Wire.SendAsync(node1, new IPEndPoint(pod1.IP, 8080), "probe"));
        // A node reaches pods elsewhere through the route via the other node (source: its node IP).
        Assert.Equal($"pod2 saw {node1.IP}: x", await Wire.SendAsync(node1, new IPEndPoint(pod2.IP, 8080), "x"));
        // Pods reach their own node and other nodes on the node IPs (host-network daemons).
        Assert.Equal($"node2 saw {pod2.IP}: ready?", await Wire.SendAsync(pod2, new IPEndPoint(node2.IP, 15021), "ready?"));
        Assert.Equal($"node2 saw {pod1.IP}: ready?", await Wire.SendAsync(pod1, new IPEndPoint(node2.IP, 15021), "ready?"));
    }

    [Fact]
    public void Addresses_routes_and_interfaces_follow_the_plan()
    {
        using var cluster = Bed.NewCluster(nodes: 2, podsPerNode: 2);
        var (node1, node2) = (cluster.Nodes[0], cluster.Nodes[1]);
        Assert.Equal(IPAddress.Parse("172.30.0.11"), node1.IP);
        Assert.Equal(IPAddress.Parse("172.30.0.12"), node2.IP);
        Assert.Equal(IPNetwork.Parse("10.201.1.0/24"), node1.PodCidr);
        Assert.Equal(IPNetwork.Parse("10.201.2.0/24"), node2.PodCidr);
        Assert.Equal(IPAddress.Parse("10.201.2.1"), node2.PodGateway);
        Assert.Equal(["10.201.1.2", "10.201.1.3"], node1.Pods.Select(p => p.IP.ToString()));
        Assert.Equal(["10.201.2.2", "10.201.2.3"], node2.Pods.Select(p => p.IP.ToString()));

        var pod = node2.Pods[1];
        Assert.Equal($"{cluster.Name}_pod_default_pod2b", pod.NetnsName);
        Assert.Equal($"/var/run/netns/{pod.NetnsName}", pod.NetnsPath);
        Assert.True(File.Exists(pod.NetnsPath));
        Assert.Contains("inet 10.201.2.3/32", pod.ExecOrThrow("ip -4 -o addr show dev eth0"));
        Assert.Contains("default via 10.201.2.1 dev eth0", pod.ExecOrThrow("ip route"));
        Assert.Equal("p3-pod2b", pod.HostVeth);
        Assert.Contains("inet 10.201.2.1/32", node2.ExecOrThrow($"ip -4 -o addr show dev {pod.HostVeth}"));
        Assert.Contains("10.201.2.3 dev p3-pod2b", node2.ExecOrThrow("ip route"));
        Assert.Contains("10.201.1.0/24 via 172.30.0.11 dev eth0", node2.ExecOrThrow("ip route"));
        Assert.Contains("inet 172.30.0.12/24", node2.ExecOrThrow("ip -4 -o addr show dev eth0"));
        Assert.Equal("1", node2.ExecOrThrow("cat /proc/sys/net/ipv4/ip_forward").Trim());
        Assert.Equal("0", pod.ExecOrThrow("cat /proc/sys/net/ipv4/ip_forward").Trim());
        // The bridge and one port per node live in the network namespace, nowhere else.
        var bridgePorts = cluster.Network.ExecOrThrow($"ip -o link show master {Cluster.BridgeName}");
        Assert.Contains("n1-node1", bridgePorts);
        Assert.Contains("n2-node2", bridgePorts);
        // IPv6 is off on the links (no neighbour discovery noise), loopback keeps ::1.
        Assert.DoesNotContain("inet6", pod.ExecOrThrow("ip -o addr show dev eth0"));
        Assert.Contains("::1", pod.ExecOrThrow("ip -o addr show dev lo"));
    }

    [Fact]
    public async Task Subnets_are_configurable()
    {
        using var cluster = Bed.NewCluster(nodes: 2, podsPerNode: 1, new ClusterOptions
        {
            Prefix = Bed.Prefix,
            NodeSubnet = IPNetwork.Parse("192.168.231.0/24"),
            PodSubnet = IPNetwork.Parse("10.77.0.0/16"),
            NodePodPrefixLength = 26,
        });
        var (pod1, pod2) = (cluster.Pods[0], cluster.Pods[1]);
        Assert.Equal(IPAddress.Parse("192.168.231.12"), cluster.Nodes[1].IP);
        Assert.Equal(IPNetwork.Parse("10.77.0.128/26"), cluster.Nodes[1].PodCidr);
        Assert.Equal(IPAddress.Parse("10.77.0.66"), pod1.IP);
        Assert.Equal(IPAddress.Parse("10.77.0.130"), pod2.IP);
        await using var server = new TagServer(pod2, new IPEndPoint(pod2.IP, 9000), "b");
        Assert.Equal($"b saw {pod1.IP}: hi", await Wire.SendAsync(pod1, new IPEndPoint(pod2.IP, 9000), "hi"));
    }

    [Fact]
    public async Task Long_names_still_give_valid_interface_names_and_bad_names_are_refused()
    {
        using var cluster = Bed.NewCluster();
        var node = cluster.AddNode("worker-with-a-very-long-name.example");
        var pod = node.AddPod("a-namespace-with-a-long-name", "reviews-v2-5b6f7c9d8-abcde", "bookinfo-reviews");
        Assert.True(node.BridgePort.Length <= 15, node.BridgePort);
        Assert.True(pod.HostVeth.Length <= 15, pod.HostVeth);
        Assert.Equal("bookinfo-reviews", pod.ServiceAccount);
        await using var server = new TagServer(pod, new IPEndPoint(IPAddress.Any, 80), "r");
        Assert.StartsWith("r saw ", await Wire.SendAsync(node, new IPEndPoint(pod.IP, 80), "x"));

        Assert.Throws<ArgumentException>(() => cluster.AddNode("Node_1"));
        Assert.Throws<ArgumentException>(() => cluster.AddNode(node.Name));
        Assert.Throws<ArgumentException>(() => node.AddPod("default", "under_score"));
        Assert.Throws<ArgumentException>(() => node.AddPod("a-namespace-with-a-long-name", "reviews-v2-5b6f7c9d8-abcde"));
        Assert.Throws<ArgumentException>(() => Cluster.Create(new ClusterOptions { Prefix = "Bad-Prefix" }));
        Assert.Throws<ArgumentException>(() => Cluster.Create(new ClusterOptions { Prefix = Bed.Prefix, PodSubnet = IPNetwork.Parse("172.30.0.0/16") }));
        Assert.Single(cluster.Pods);
    }

    [Fact]
    public async Task Deleting_a_pod_removes_it_and_keeps_its_neighbours_reachable()
    {
        using var cluster = Bed.NewCluster(nodes: 2, podsPerNode: 2);
        var node1 = cluster.Nodes[0];
        var (gone, stays) = (node1.Pods[0], node1.Pods[1]);
        var remote = cluster.Nodes[1].Pods[0];
        gone.Delete();
        gone.Delete(); // idempotent
        Assert.True(gone.IsDeleted);
        Assert.False(File.Exists(gone.NetnsPath));
        Assert.DoesNotContain(gone, cluster.Pods);
        Assert.DoesNotContain(gone, node1.Pods);
        Assert.False(node1.Exec($"ip link show dev {gone.HostVeth}").Succeeded);
        Assert.Throws<ObjectDisposedException>(() => gone.Exec("true"));
        // The gateway address stays on the other veth: the neighbour is still reachable from everywhere.
        await using var server = new TagServer(stays, new IPEndPoint(IPAddress.Any, 8080), "stays");
        Assert.Equal($"stays saw {node1.PodGateway}: a", await Wire.SendAsync(node1, new IPEndPoint(stays.IP, 8080), "a"));
        Assert.Equal($"stays saw {remote.IP}: b", await Wire.SendAsync(remote, new IPEndPoint(stays.IP, 8080), "b"));
        // A new pod gets a fresh address (no reuse while the cluster lives).
        var next = node1.AddPod("default", "pod1c");
        Assert.Equal(IPAddress.Parse("10.201.1.4"), next.IP);
    }
}

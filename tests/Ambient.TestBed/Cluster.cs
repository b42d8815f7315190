using System.Net;
using System.Security.Cryptography;
using System.Text.RegularExpressions;

namespace Ambient.TestBed;

/// <summary>
/// A Kubernetes-like cluster on one Linux machine, made of network namespaces (DESIGN.md §7). Needs root.
/// <code>
/// using var cluster = Cluster.Create(new ClusterOptions { Prefix = "amb" });
/// var node1 = cluster.AddNode("node1");
/// var sleep = node1.AddPod("default", "sleep");
/// </code>
/// <list type="bullet">
/// <item>the network: namespace <c>{Prefix}-{Id}_net</c> holding bridge <c>br0</c> (the wire between nodes);
/// nothing is added to the host namespace;</item>
/// <item>node N: namespace <c>{Prefix}-{Id}_node_{name}</c>; <c>eth0</c> = NodeSubnet host 10+N, a veth to a port
/// of <c>br0</c>; IP forwarding on; a route to every other node's pod CIDR via that node's IP;</item>
/// <item>pod: namespace <c>{Prefix}-{Id}_pod_{namespace}_{name}</c>; <c>eth0</c> = IP/32 (.2, .3, … of the node's
/// pod CIDR), default route via the gateway .1, which sits on the node-side veth (the CNI "ptp" layout).</item>
/// </list>
/// <see cref="Dispose"/> stops every process and capture, deletes every interface and namespace; it is idempotent
/// and also runs at process exit. <see cref="CleanupStale"/> removes what crashed runs left behind.
/// </summary>
public sealed class Cluster : IDisposable
{
    /// <summary>The bridge in the network namespace.</summary>
    public const string BridgeName = "br0";

    /// <summary>Holds one lock file per live cluster (flock'd while it lives), so stale leftovers can be told apart.</summary>
    public const string LockDirectory = "/var/run/ambient-testbed";

    private static readonly Regex NamePattern = new("^[a-z0-9]([-a-z0-9.]{0,61}[a-z0-9])?$", RegexOptions.CultureInvariant);
    private static readonly Regex PrefixPattern = new("^[a-z][a-z0-9]{0,11}$", RegexOptions.CultureInvariant);
    private static readonly Regex IdPattern = new("^[a-z0-9]{1,16}$", RegexOptions.CultureInvariant);
    private static readonly HashSet<Cluster> Live = [];
    private static bool _exitHookInstalled;

    private readonly Lock _gate = new();
    private readonly List<Node> _nodes = [];
    private readonly List<Pod> _pods = [];
    private int _lockFd = -1;
    private bool _disposed;
    private NetworkNamespace? _network;

    private Cluster(ClusterOptions options, string id)
    {
        Options = options;
        Id = id;
    }

    public ClusterOptions Options { get; }

    /// <summary>This run's id (random unless <see cref="ClusterOptions.Id"/> was given).</summary>
    public string Id { get; }

    /// <summary><c>{Prefix}-{Id}</c>: the start of all its namespace names.</summary>
    public string Name => $"{Options.Prefix}-{Id}";

    /// <summary>The namespace holding the bridge between the nodes (capture here to see the wire).</summary>
    public NetworkNamespace Network => _network ?? throw new ObjectDisposedException(Name);

    public IReadOnlyList<Node> Nodes { get { lock (_gate) return _nodes.ToArray(); } }

    public IReadOnlyList<Pod> Pods { get { lock (_gate) return _pods.ToArray(); } }

    public bool IsDisposed { get { lock (_gate) return _disposed; } }

    /// <summary>Every namespace of the cluster: network, nodes, pods.</summary>
    public IReadOnlyList<NetworkNamespace> Namespaces
    {
        get { lock (_gate) return [.. (_network is null ? [] : new[] { _network }), .. _nodes, .. _pods]; }
    }

    /// <summary>Creates the cluster network (no nodes yet).</summary>
    /// <exception cref="TestBedException">Not root, no iproute2, bad options, or the id is in use.</exception>
    public static Cluster Create(ClusterOptions? options = null)
    {
        options ??= new ClusterOptions();
        Validate(options);
        if (!IsSupported(out var reason)) throw new TestBedException(reason!);
        var cluster = new Cluster(options, options.Id ?? RandomNumberGenerator.GetString("abcdefghijklmnopqrstuvwxyz0123456789", 6));
        Register(cluster);
        try
        {
            cluster.Build();
            return cluster;
        }
        catch
        {
            cluster.Dispose();
            throw;
        }
    }

    /// <summary>True if this process can build clusters (Linux, root, iproute2); otherwise says why.</summary>
    public static bool IsSupported(out string? reason)
    {
        reason = !OperatingSystem.IsLinux() ? "network namespaces need Linux"
            : !Environment.IsPrivilegedProcess ? "network namespaces need root"
            : Tools.Which("ip") is null ? "iproute2 ('ip') is not installed"
            : !File.Exists("/proc/self/ns/net") ? "the kernel has no network namespaces"
            : null;
        return reason is null;
    }

    /// <summary>Adds a node (name: lowercase DNS label, e.g. <c>node1</c>) and routes between it and the other nodes.</summary>
    public Node AddNode(string name)
    {
        lock (_gate)
        {
            ThrowIfDisposed();
            ValidateName(name, "node name");
            if (_nodes.Any(n => n.Name == name)) throw new ArgumentException($"node {name} exists already", nameof(name));
            int index = _nodes.Count + 1;
            if (10 + index >= Addressing.Size(Options.NodeSubnet) - 1)
                throw new TestBedException($"node subnet {Options.NodeSubnet} is full");
            var ip = Addressing.Add(Options.NodeSubnet.BaseAddress, 10 + index);
            var cidr = Addressing.Subnet(Options.PodSubnet, Options.NodePodPrefixLength, index);
            var port = Tools.TruncateInterfaceName($"n{index}-{name}");
            var netns = $"{Name}_node_{name}";
            var others = _nodes.ToArray();

            Tools.AddNetns(netns, Options.Log);
            var node = new Node(this, name, index, ip, cidr, netns, port);
            _nodes.Add(node); // from here on, tear-down knows it
            if (Options.DisableIPv6) node.WriteSysctl("net.ipv6.conf.default.disable_ipv6", "1", optional: true);
            node.WriteSysctl("net.ipv4.ip_forward", "1");
            Tools.Ip(netns,
            [
                "link set lo up",
                $"link add eth0 type veth peer name {port} netns {Network.NetnsName}",
                $"addr add {ip}/{Options.NodeSubnet.PrefixLength} dev eth0",
                "link set eth0 up",
                .. others.Select(o => $"route add {o.PodCidr} via {o.IP} dev eth0"),
            ], Options.Log);
            Tools.Ip(Network.NetnsName, [$"link set {port} master {BridgeName}", $"link set {port} up"], Options.Log);
            foreach (var other in others)
                Tools.Ip(other.NetnsName, [$"route add {cidr} via {ip} dev eth0"], Options.Log);
            return node;
        }
    }

    public Node GetNode(string name) =>
        Nodes.FirstOrDefault(n => n.Name == name) ?? throw new KeyNotFoundException($"no node {name} in {Name}");

    public Pod GetPod(string @namespace, string name) =>
        Pods.FirstOrDefault(p => p.Namespace == @namespace && p.Name == name) ?? throw new KeyNotFoundException($"no pod {@namespace}/{name} in {Name}");

    /// <summary>Captures on the bridge, i.e. everything that travels between nodes. See <see cref="NetworkNamespace.Capture"/>.</summary>
    public PacketCapture Capture(string? filter = null, string? pcapPath = null) => Network.Capture(filter, BridgeName, pcapPath);

    internal Pod AddPodTo(Node node, string @namespace, string name, string serviceAccount)
    {
        lock (_gate)
        {
            ThrowIfDisposed();
            ValidateName(@namespace, "namespace");
            ValidateName(name, "pod name");
            ValidateName(serviceAccount, "service account");
            if (_pods.Any(p => p.Namespace == @namespace && p.Name == name))
                throw new ArgumentException($"pod {@namespace}/{name} exists already", nameof(name));
            int host = node.TakePodHost();
            var ip = Addressing.Add(node.PodCidr.BaseAddress, host);
            var gateway = node.PodGateway;
            var veth = Tools.TruncateInterfaceName($"p{host}-{name}");
            var netns = $"{Name}_pod_{@namespace}_{name}";

            Tools.AddNetns(netns, Options.Log);
            var pod = new Pod(node, @namespace, name, serviceAccount, ip, netns, veth);
            _pods.Add(pod);
            node.Attach(pod);
            if (Options.DisableIPv6) pod.WriteSysctl("net.ipv6.conf.default.disable_ipv6", "1", optional: true);
            Tools.Ip(node.NetnsName,
            [
                $"link add {veth} type veth peer name eth0 netns {netns}",
                $"addr add {gateway}/32 dev {veth}",
                $"link set {veth} up",
                $"route add {ip}/32 dev {veth} src {gateway}",
            ], Options.Log);
            Tools.Ip(netns,
            [
                "link set lo up",
                $"addr add {ip}/32 dev eth0",
                "link set eth0 up",
                $"route add {gateway} dev eth0 scope link",
                $"route add default via {gateway} dev eth0",
            ], Options.Log);
            return pod;
        }
    }

    internal void DeletePod(Pod pod)
    {
        lock (_gate)
        {
            if (pod.IsDeleted || _disposed) return;
            pod.StopEverything(Options.StopGrace);
            if (pod.TryGetNetnsId() is { } id) Tools.KillAllIn(new HashSet<string> { id });
            if (!pod.Node.IsDeleted) Tools.Ip(pod.Node.NetnsName, [$"link del {pod.HostVeth}"], Options.Log, force: true);
            pod.DeleteNetns();
            _pods.Remove(pod);
            pod.Node.Detach(pod);
        }
    }

    /// <summary>
    /// Tears everything down: captures, processes (SIGTERM, then SIGKILL, and any other process found inside),
    /// interfaces (even in a namespace something still pins), namespaces, the lock file. Idempotent; never throws.
    /// </summary>
    public void Dispose()
    {
        NetworkNamespace[] all;
        Node[] nodes;
        Pod[] pods;
        lock (_gate)
        {
            if (_disposed) return;
            _disposed = true;
            nodes = _nodes.ToArray();
            pods = _pods.ToArray();
            all = [.. pods, .. nodes, .. (_network is null ? [] : new[] { _network })];
        }
        var log = Options.Log;
        try
        {
            NetnsProcess.StopAll(all.SelectMany(ns => ns.TrackedProcesses()), Options.StopGrace);
            foreach (var ns in all) ns.StopEverything(TimeSpan.Zero);
            var ids = all.Select(ns => ns.TryGetNetnsId()).OfType<string>().ToHashSet();
            int killed = Tools.KillAllIn(ids);
            if (killed > 0) log?.Invoke($"killed {killed} leftover process(es) in {Name}");
            // Delete the links explicitly: a namespace pinned by a leaked socket or fd outlives its name,
            // and would keep its interfaces.
            foreach (var node in nodes)
                Tools.Ip(node.NetnsName, pods.Where(p => p.Node == node).Select(p => $"link del {p.HostVeth}").ToArray(), log, force: true);
            if (_network is not null)
                Tools.Ip(_network.NetnsName, [.. nodes.Select(n => $"link del {n.BridgePort}"), $"link del {BridgeName}"], log, force: true);
        }
        catch (Exception e)
        {
            log?.Invoke($"tear-down of {Name}: {e.Message}");
        }
        finally
        {
            foreach (var ns in all)
            {
                try { ns.DeleteNetns(); }
                catch (Exception e) { log?.Invoke($"deleting {ns.NetnsName}: {e.Message}"); }
            }
            // Anything named like us (e.g. a namespace created just before a failure registered it) — but only if
            // the names are ours: a Create refused because the id is in use must not touch the live cluster.
            if (_lockFd >= 0)
                foreach (var name in Tools.NetnsNames().Where(n => n.StartsWith(Name + "_", StringComparison.Ordinal)))
                    Tools.DeleteNetns(name);
            ReleaseLock();
            lock (Live) Live.Remove(this);
        }
    }

    /// <summary>
    /// Removes namespaces named <c>{prefix}-{id}_…</c> whose cluster is not alive (its lock file is not held: the
    /// process that made it is gone), after killing processes left in them. Live clusters, in this process or
    /// another, are left alone. Returns the names of the namespaces removed.
    /// </summary>
    public static IReadOnlyList<string> CleanupStale(string prefix = "amb")
    {
        if (!PrefixPattern.IsMatch(prefix)) throw new ArgumentException($"invalid prefix '{prefix}'", nameof(prefix));
        var netnsPattern = new Regex($"^{prefix}-([a-z0-9]{{1,16}})_", RegexOptions.CultureInvariant);
        var lockPattern = new Regex($"^{prefix}-([a-z0-9]{{1,16}})\\.lock$", RegexOptions.CultureInvariant);
        var namesById = Tools.NetnsNames()
            .Select(n => (Name: n, Match: netnsPattern.Match(n)))
            .Where(x => x.Match.Success)
            .ToLookup(x => x.Match.Groups[1].Value, x => x.Name);
        var lockIds = Directory.Exists(LockDirectory)
            ? Directory.EnumerateFiles(LockDirectory).Select(f => lockPattern.Match(Path.GetFileName(f))).Where(m => m.Success).Select(m => m.Groups[1].Value)
            : [];
        var removed = new List<string>();
        foreach (var id in namesById.Select(g => g.Key).Union(lockIds).ToArray())
        {
            var lockPath = LockPath(prefix, id);
            Directory.CreateDirectory(LockDirectory);
            int fd = Native.open(lockPath, Native.O_RDWR | Native.O_CREAT | Native.O_CLOEXEC, 420 /* 0644 */);
            if (fd < 0) continue;
            try
            {
                if (Native.flock(fd, Native.LOCK_EX | Native.LOCK_NB) != 0) continue; // alive
                // Pods first, then nodes, then the network (the order does not matter to the kernel; it reads well).
                var names = namesById[id].OrderBy(n => n.Contains("_pod_") ? 0 : n.Contains("_node_") ? 1 : 2).ToArray();
                var ids = names.Select(n => new NetworkNamespace(n, "", null).TryGetNetnsId()).OfType<string>().ToHashSet();
                Tools.KillAllIn(ids);
                foreach (var name in names)
                    if (Tools.DeleteNetns(name)) removed.Add(name);
                File.Delete(lockPath);
            }
            finally
            {
                Native.close(fd);
            }
        }
        return removed;
    }

    /// <summary>For tests of <see cref="CleanupStale"/>: behaves as if the owning process died (the lock is released,
    /// namespaces and processes stay).</summary>
    internal void SimulateCrash()
    {
        lock (_gate) _disposed = true;
        Native.close(_lockFd);
        _lockFd = -1;
        lock (Live) Live.Remove(this);
    }

    public override string ToString() => $"cluster {Name}: {Nodes.Count} node(s), {Pods.Count} pod(s)";

    private void Build()
    {
        TakeLock();
        var existing = Tools.NetnsNames().FirstOrDefault(n => n.StartsWith(Name + "_", StringComparison.Ordinal));
        if (existing is not null)
            throw new TestBedException($"namespace {existing} exists already: a leftover of an earlier run? (Cluster.CleanupStale(\"{Options.Prefix}\") removes it)");
        var netns = $"{Name}_net";
        Tools.AddNetns(netns, Options.Log);
        _network = new NetworkNamespace(netns, BridgeName, Options.Log);
        if (Options.DisableIPv6) _network.WriteSysctl("net.ipv6.conf.default.disable_ipv6", "1", optional: true);
        // With br_netfilter loaded, bridged frames would traverse this namespace's iptables: keep the wire a plain wire.
        _network.WriteSysctl("net.bridge.bridge-nf-call-iptables", "0", optional: true);
        _network.WriteSysctl("net.bridge.bridge-nf-call-ip6tables", "0", optional: true);
        Tools.Ip(netns, ["link set lo up", $"link add {BridgeName} type bridge", $"link set {BridgeName} up"], Options.Log);
    }

    private static string LockPath(string prefix, string id) => Path.Combine(LockDirectory, $"{prefix}-{id}.lock");

    private void TakeLock()
    {
        Directory.CreateDirectory(LockDirectory);
        var path = LockPath(Options.Prefix, Id);
        for (int attempt = 0; attempt < 5; attempt++)
        {
            int fd = Native.open(path, Native.O_RDWR | Native.O_CREAT | Native.O_CLOEXEC, 420 /* 0644 */);
            if (fd < 0) throw new TestBedException($"cannot create {path}: {Native.LastError()}");
            if (Native.flock(fd, Native.LOCK_EX | Native.LOCK_NB) != 0)
            {
                Native.close(fd);
                throw new TestBedException($"cluster {Name} is in use by another process (lock {path})");
            }
            // A concurrent CleanupStale may have unlinked the file between our open and flock: then lock the new one.
            var target = new FileInfo($"/proc/self/fd/{fd}").LinkTarget;
            if (target is not null && !target.EndsWith(" (deleted)", StringComparison.Ordinal))
            {
                _lockFd = fd;
                return;
            }
            Native.close(fd);
        }
        throw new TestBedException($"could not lock {path}");
    }

    private void ReleaseLock()
    {
        if (_lockFd < 0) return;
        try { File.Delete(LockPath(Options.Prefix, Id)); } catch (IOException) { }
        Native.close(_lockFd);
        _lockFd = -1;
    }

    private static void Register(Cluster cluster)
    {
        lock (Live)
        {
            Live.Add(cluster);
            if (_exitHookInstalled) return;
            _exitHookInstalled = true;
            AppDomain.CurrentDomain.ProcessExit += (_, _) =>
            {
                Cluster[] live;
                lock (Live) live = Live.ToArray();
                foreach (var c in live) c.Dispose();
            };
        }
    }

    private static void Validate(ClusterOptions o)
    {
        if (!PrefixPattern.IsMatch(o.Prefix)) throw new ArgumentException($"Prefix '{o.Prefix}': 1–12 lowercase letters/digits, starting with a letter");
        if (o.Id is not null && !IdPattern.IsMatch(o.Id)) throw new ArgumentException($"Id '{o.Id}': 1–16 lowercase letters/digits");
        foreach (var (net, what) in new[] { (o.NodeSubnet, "NodeSubnet"), (o.PodSubnet, "PodSubnet") })
            if (net.BaseAddress.AddressFamily != System.Net.Sockets.AddressFamily.InterNetwork)
                throw new ArgumentException($"{what} {net}: IPv4 only");
        if (o.NodeSubnet.PrefixLength > 27) throw new ArgumentException($"NodeSubnet {o.NodeSubnet}: /27 or larger");
        if (o.NodePodPrefixLength < o.PodSubnet.PrefixLength + 1 || o.NodePodPrefixLength > 29)
            throw new ArgumentException($"NodePodPrefixLength /{o.NodePodPrefixLength} must lie between /{o.PodSubnet.PrefixLength + 1} and /29");
        if (o.NodeSubnet.Contains(o.PodSubnet.BaseAddress) || o.PodSubnet.Contains(o.NodeSubnet.BaseAddress))
            throw new ArgumentException($"NodeSubnet {o.NodeSubnet} and PodSubnet {o.PodSubnet} overlap");
    }

    private static void ValidateName(string name, string what)
    {
        if (name is null || !NamePattern.IsMatch(name))
            throw new ArgumentException($"{what} '{name}' is not a lowercase DNS name (a-z, 0-9, '-', '.', ≤ 63)");
    }

    private void ThrowIfDisposed()
    {
        if (_disposed) throw new ObjectDisposedException(Name);
    }
}

using System.Diagnostics;
using System.Net;
using System.Text;

namespace Ambient.TestBed;

/// <summary>
/// A service for the mesh config: a VIP load-balanced over the pods whose label <see cref="SelectorKey"/> is
/// <see cref="App"/>. Pods are labelled app=&lt;pod name&gt; and role=&lt;pod name up to its first '-'&gt;.
/// </summary>
public sealed record MeshService(string Name, string Namespace, IPAddress Vip, int Port, int TargetPort, string App, string SelectorKey = "app");

/// <summary>Where the Ambient programs are (their .dll, run with `dotnet`).</summary>
public sealed record AmbientBinaries(string Daemon, string Agent, string CniPlugin)
{
    /// <summary>The programs next to the running assembly (test output or the deploy/local tool's output).</summary>
    public static AmbientBinaries NextTo(string directory) => new(
        Path.Combine(directory, "ambient-daemon.dll"),
        Path.Combine(directory, "ambient-cni-agent.dll"),
        Path.Combine(directory, "ambient-cni.dll"));
}

/// <summary>
/// The whole mesh on a test-bed cluster, as it runs on real nodes: per node an ambient-daemon in in-pod mode
/// and an ambient-cni-agent, both in the node's network namespace; pods join through the CNI plugin, exactly
/// as a container runtime would call it. The config lists every pod not in <c>outsideMesh</c> as a workload.
/// </summary>
public sealed class AmbientMesh : IAsyncDisposable
{
    private readonly Cluster _cluster;
    private readonly AmbientBinaries _binaries;
    private readonly Dictionary<string, NetnsProcess> _daemons = new();
    private readonly Dictionary<string, NetnsProcess> _agents = new();

    private AmbientMesh(Cluster cluster, AmbientBinaries binaries, string workDirectory)
    {
        _cluster = cluster;
        _binaries = binaries;
        WorkDirectory = workDirectory;
    }

    public string WorkDirectory { get; }
    public string ConfigPath => Path.Combine(WorkDirectory, "ambient.yaml");
    public string StateDirectory => Path.Combine(WorkDirectory, "state");
    public NetnsProcess Daemon(Node node) => _daemons[node.Name];
    public NetnsProcess Agent(Node node) => _agents[node.Name];
    public string DaemonSocket(Node node) => Path.Combine(WorkDirectory, node.Name, "daemon.sock");
    public string CniSocket(Node node) => Path.Combine(WorkDirectory, node.Name, "cni-agent.sock");

    /// <summary>Writes the config and starts a daemon and an agent on every node.</summary>
    public static async Task<AmbientMesh> StartAsync(Cluster cluster, AmbientBinaries binaries, IEnumerable<MeshService> services,
        IEnumerable<Pod>? outsideMesh = null, string extraYaml = "")
    {
        var dir = Directory.CreateTempSubdirectory("ambient-mesh-").FullName;
        var mesh = new AmbientMesh(cluster, binaries, dir);
        try
        {
            File.WriteAllText(mesh.ConfigPath, Config(cluster, services, outsideMesh ?? [], extraYaml));
            foreach (var node in cluster.Nodes)
            {
                Directory.CreateDirectory(Path.Combine(dir, node.Name));
                await mesh.StartDaemonAsync(node);
                mesh.StartAgentProcess(node);
            }
            foreach (var node in cluster.Nodes)
                await WaitForAsync(() => File.Exists(mesh.CniSocket(node)), TimeSpan.FromSeconds(20), $"agent on {node.Name} to listen", mesh._agents[node.Name]);
            return mesh;
        }
        catch
        {
            await mesh.DisposeAsync();
            throw;
        }
    }

    /// <summary>Starts (or restarts) the daemon of a node and waits until it listens for its agent.</summary>
    public async Task StartDaemonAsync(Node node)
    {
        if (_daemons.Remove(node.Name, out var old) && !old.HasExited)
            old.Stop();
        var socket = DaemonSocket(node);
        if (File.Exists(socket)) File.Delete(socket);
        var daemon = node.Start("dotnet", [_binaries.Daemon, "--config", ConfigPath, "--node", node.Name, "--agent-socket", socket,
            "--state-dir", StateDirectory, "--readiness", $"{node.IP}:15021", "--log-format", "text"]);
        _daemons[node.Name] = daemon;
        await WaitForAsync(() => File.Exists(socket), TimeSpan.FromSeconds(20), $"daemon on {node.Name} to start", daemon);
    }

    private void StartAgentProcess(Node node)
    {
        if (File.Exists(CniSocket(node))) File.Delete(CniSocket(node));
        _agents[node.Name] = node.Start("dotnet", [_binaries.Agent, "--config", ConfigPath, "--cni-socket", CniSocket(node),
            "--daemon-socket", DaemonSocket(node), "--state-file", Path.Combine(WorkDirectory, node.Name, "agent-pods.json"), "--log-format", "text"]);
    }

    /// <summary>Kills a node's agent outright and starts a new one, which must pick up the enrolled pods.</summary>
    public async Task RestartAgentAsync(Node node)
    {
        var old = _agents[node.Name];
        old.Process.Kill(entireProcessTree: true);
        old.Process.WaitForExit(5000);
        StartAgentProcess(node);
        await WaitForAsync(() => File.Exists(CniSocket(node)), TimeSpan.FromSeconds(20), $"agent on {node.Name} to listen", _agents[node.Name]);
    }

    /// <summary>Kills a node's daemon outright (no graceful stop), as a crash would.</summary>
    public void KillDaemon(Node node)
    {
        var daemon = _daemons[node.Name];
        daemon.Process.Kill(entireProcessTree: true);
        daemon.Process.WaitForExit(5000);
    }

    /// <summary>Runs the CNI plugin's ADD for a pod, as the container runtime does after the primary plugin.</summary>
    public CniResult Add(Pod pod) => RunCni("ADD", pod);

    /// <summary>Runs the CNI plugin's DEL for a pod.</summary>
    public CniResult Delete(Pod pod) => RunCni("DEL", pod);

    /// <summary>Asks the node's agent to take a running pod out of the mesh (its rules go, the pod keeps running).</summary>
    public ExecResult Unenroll(Pod pod) => Run("dotnet", [_binaries.Agent, "unenroll", "--cni-socket", CniSocket(pod.Node), "--netns", pod.NetnsPath,
        "--namespace", pod.Namespace, "--name", pod.Name, "--uid", Uid(pod)]);

    /// <summary>Asks the node's agent to put a running pod in the mesh.</summary>
    public ExecResult Enroll(Pod pod) => Run("dotnet", [_binaries.Agent, "enroll", "--cni-socket", CniSocket(pod.Node), "--netns", pod.NetnsPath,
        "--namespace", pod.Namespace, "--name", pod.Name, "--uid", Uid(pod), "--ip", pod.IP.ToString()]);

    public static string Uid(Pod pod) => $"{pod.Namespace}/{pod.Name}";

    private CniResult RunCni(string command, Pod pod)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(_binaries.CniPlugin);
        psi.Environment["CNI_COMMAND"] = command;
        psi.Environment["CNI_CONTAINERID"] = "c" + Guid.NewGuid().ToString("N")[..16];
        psi.Environment["CNI_NETNS"] = pod.NetnsPath;
        psi.Environment["CNI_IFNAME"] = "eth0";
        psi.Environment["CNI_PATH"] = "/opt/cni/bin";
        psi.Environment["CNI_ARGS"] = $"K8S_POD_NAMESPACE={pod.Namespace};K8S_POD_NAME={pod.Name};K8S_POD_UID={Uid(pod)}";
        var config = "{\"cniVersion\":\"1.0.0\",\"name\":\"k8s-pod-network\",\"type\":\"ambient-cni\"," +
            $"\"agentSocket\":\"{CniSocket(pod.Node)}\"," +
            "\"prevResult\":{\"cniVersion\":\"1.0.0\"," +
            $"\"interfaces\":[{{\"name\":\"eth0\",\"sandbox\":\"{pod.NetnsPath}\"}}]," +
            $"\"ips\":[{{\"address\":\"{pod.IP}/32\",\"gateway\":\"{pod.Gateway}\",\"interface\":0}}]}}}}";
        using var p = Process.Start(psi)!;
        p.StandardInput.Write(config);
        p.StandardInput.Close();
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEnd();
        p.WaitForExit();
        return new CniResult(p.ExitCode, stdout.Result, stderr);
    }

    private static ExecResult Run(string file, IEnumerable<string> args)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEnd();
        p.WaitForExit();
        return new ExecResult(p.ExitCode, stdout.Result, stderr);
    }

    /// <summary>The mesh config for the cluster: every pod a workload on its node, plus the services.</summary>
    public static string Config(Cluster cluster, IEnumerable<MeshService> services, IEnumerable<Pod> outsideMesh, string extraYaml)
    {
        var outside = outsideMesh.ToHashSet();
        var sb = new StringBuilder("trustDomain: cluster.local\nworkloads:\n");
        foreach (var pod in cluster.Pods)
        {
            if (outside.Contains(pod))
                continue;
            sb.Append($"  - uid: {Uid(pod)}\n    name: {pod.Name}\n    namespace: {pod.Namespace}\n    serviceAccount: {pod.ServiceAccount}\n");
            sb.Append($"    addresses: [{pod.IP}]\n    node: {pod.Node.Name}\n    labels: {{app: {pod.Name}, role: {pod.Name.Split('-')[0]}}}\n");
        }
        var list = services.ToList();
        if (list.Count > 0)
        {
            sb.Append("services:\n");
            foreach (var s in list)
                sb.Append($"  - name: {s.Name}\n    namespace: {s.Namespace}\n    vips: [{s.Vip}]\n    ports: {{{s.Port}: {s.TargetPort}}}\n    selector: {{{s.SelectorKey}: {s.App}}}\n");
        }
        sb.Append(extraYaml);
        return sb.ToString();
    }

    private static async Task WaitForAsync(Func<bool> condition, TimeSpan timeout, string what, NetnsProcess process)
    {
        var until = DateTime.UtcNow + timeout;
        while (!condition())
        {
            if (process.HasExited || DateTime.UtcNow > until)
                throw new TestBedException($"timed out waiting for {what}; output:\n{process.Output}");
            await Task.Delay(50);
        }
    }

    public ValueTask DisposeAsync()
    {
        foreach (var p in _agents.Values.Concat(_daemons.Values))
            p.Dispose();
        try { Directory.Delete(WorkDirectory, recursive: true); } catch (IOException) { }
        return ValueTask.CompletedTask;
    }
}

public sealed record CniResult(int ExitCode, string StdOut, string StdErr);

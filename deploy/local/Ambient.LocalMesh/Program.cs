using System.Net;
using Ambient.TestBed;

// ambient-local: brings up a two-node mesh on this machine, with nginx in pods enrolled through the CNI
// plugin, and tears it all down on exit.
const string Usage = """
    ambient-local — the whole Ambient mesh on one Linux machine (run as root).

    Builds two nodes and their pods as network namespaces (bridge, veth, routes), starts nginx in the server
    pods, runs ambient-daemon (in-pod mode) and ambient-cni-agent on each node, and enrols the pods through the
    ambient-cni plugin exactly as a container runtime would. Everything is removed when it exits.

    Usage: ambient-local [--demo] [--help]

      (no option)  Bring the mesh up, print how to use it, and wait for Ctrl-C / SIGTERM.
      --demo       Bring it up, send requests through it, print the result, tear it down. Exit 0 if they passed.

    Topology: node1 runs sleep (client) and web-local; node2 runs echo and web-remote. Service echo has
    VIP 10.96.0.10:80. Try, while it runs:  ip netns exec <sleep netns> curl http://10.96.0.10/
    """;

bool demo = false;
foreach (var arg in args)
{
    switch (arg)
    {
        case "-h" or "--help": Console.WriteLine(Usage); return 0;
        case "--demo": demo = true; break;
        default: Console.Error.WriteLine($"ambient-local: unknown option '{arg}' (see --help)"); return 2;
    }
}
if (!Cluster.IsSupported(out var reason))
{
    Console.Error.WriteLine($"ambient-local: cannot build the local cluster: {reason}");
    return 2;
}

Cluster.CleanupStale("ambl");
var vip = IPAddress.Parse("10.96.0.10");
var work = Directory.CreateTempSubdirectory("ambient-local-").FullName;
using var cluster = Cluster.Create(new ClusterOptions { Prefix = "ambl" });
var servers = new List<NetnsProcess>();
AmbientMesh? mesh = null;
try
{
    var node1 = cluster.AddNode("node1");
    var node2 = cluster.AddNode("node2");
    var sleep = node1.AddPod("default", "sleep", "sleep");
    var webLocal = node1.AddPod("default", "web-local", "web");
    var echo = node2.AddPod("default", "echo", "echo");
    var webRemote = node2.AddPod("default", "web-remote", "web");
    foreach (var pod in new[] { webLocal, echo, webRemote })
        servers.Add(Nginx.Start(pod, Path.Combine(work, pod.Name)));

    Console.WriteLine("starting daemons and agents on node1, node2 …");
    mesh = await AmbientMesh.StartAsync(cluster, AmbientBinaries.NextTo(AppContext.BaseDirectory),
        [new MeshService("echo", "default", vip, 80, 80, "echo")]);
    foreach (var pod in cluster.Pods)
    {
        var r = mesh.Add(pod);
        Console.WriteLine(r.ExitCode == 0 ? $"  enrolled {pod}" : $"  FAILED to enrol {pod}: {r.StdOut}{r.StdErr}");
        if (r.ExitCode != 0) return 1;
    }

    if (demo)
    {
        int failures = 0;
        foreach (var (what, url) in new[] { ("echo by VIP", $"http://{vip}/"), ("echo by pod IP", $"http://{echo.IP}/"), ("web-local (same node)", $"http://{webLocal.IP}/"), ("web-remote", $"http://{webRemote.IP}/") })
        {
            ExecResult result = sleep.Exec($"curl -sS --max-time 5 {url}");
            for (int i = 0; i < 20 && !result.Succeeded; i++)
            {
                await Task.Delay(100);
                result = sleep.Exec($"curl -sS --max-time 5 {url}");
            }
            Console.WriteLine(result.Succeeded ? $"  ok   sleep -> {what}: {result.StdOut.Trim()}" : $"  FAIL sleep -> {what}: {result.StdErr.Trim()}");
            if (!result.Succeeded) failures++;
        }
        Console.WriteLine(failures == 0 ? "demo passed: every request went through the mesh (HBONE between the node daemons)" : $"demo failed: {failures} request(s)");
        return failures == 0 ? 0 : 1;
    }

    Console.WriteLine($"""

        The mesh is up. From the sleep pod:
          ip netns exec {sleep.NetnsName} curl http://{vip}/
          ip netns exec {sleep.NetnsName} curl http://{webRemote.IP}/
        Daemon logs (access lines) are printed below. Ctrl-C or SIGTERM tears everything down.

        """);
    using var stop = new Ambient.Hosting.StopSignal();
    var printed = new Dictionary<string, int>();
    while (!stop.Token.IsCancellationRequested)
    {
        foreach (var node in cluster.Nodes)
        {
            var output = mesh.Daemon(node).Output;
            printed.TryGetValue(node.Name, out int from);
            foreach (var line in output[Math.Min(from, output.Length)..].Split('\n'))
                if (line.Contains("access[")) Console.WriteLine($"[{node.Name}] {line}");
            printed[node.Name] = output.Length;
        }
        try { await Task.Delay(500, stop.Token); } catch (OperationCanceledException) { }
    }
    Console.WriteLine("tearing down …");
    return 0;
}
finally
{
    if (mesh is not null) await mesh.DisposeAsync();
    foreach (var s in servers) s.Dispose();
    try { Directory.Delete(work, recursive: true); } catch (IOException) { }
}

using System.Net;
using Ambient.TestBed;

namespace Ambient.Tests.Interception;

/// <summary>
/// The mesh as users get it: unmodified applications in pods (nginx, curl), pods joining through the CNI plugin,
/// traffic captured inside each pod and carried between nodes in HBONE, on a two-node test-bed cluster.
/// </summary>
[Collection("interception")]
public sealed class InterceptionTests : IAsyncLifetime
{
    private static readonly IPAddress EchoVip = IPAddress.Parse("10.96.0.10");
    private Cluster _cluster = null!;
    private AmbientMesh _mesh = null!;
    private Pod _sleep = null!, _echo = null!, _local = null!, _outside = null!;
    private string _dir = null!;
    private readonly List<NetnsProcess> _servers = new();

    public async Task InitializeAsync()
    {
        Assert.True(Cluster.IsSupported(out var reason), reason);
        _dir = Directory.CreateTempSubdirectory("ambient-interception-").FullName;
        _cluster = Cluster.Create(new ClusterOptions { Prefix = "ambi" });
        var node1 = _cluster.AddNode("node1");
        var node2 = _cluster.AddNode("node2");
        _sleep = node1.AddPod("default", "sleep", "sleep");
        _local = node1.AddPod("default", "local", "local");   // same node as sleep
        _echo = node2.AddPod("default", "echo", "echo");
        _outside = node2.AddPod("default", "outside");        // not in the mesh
        foreach (var pod in new[] { _echo, _local, _outside })
            _servers.Add(StartNginx(pod));
        _mesh = await AmbientMesh.StartAsync(_cluster, AmbientBinaries.NextTo(AppContext.BaseDirectory),
            [new MeshService("echo", "default", EchoVip, 80, 80, "echo")], outsideMesh: [_outside]);
    }

    public async Task DisposeAsync()
    {
        await _mesh.DisposeAsync();
        foreach (var s in _servers) s.Dispose();
        _cluster.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    private NetnsProcess StartNginx(Pod pod) => Nginx.Start(pod, Path.Combine(_dir, pod.Name));

    private static async Task<ExecResult> CurlAsync(Pod from, string url, string marker = "x")
    {
        ExecResult r = from.Exec($"curl -sS --max-time 5 -H 'x-marker: {marker}' {url}");
        for (int i = 0; i < 30 && !r.Succeeded; i++)
        {
            await Task.Delay(100);
            r = from.Exec($"curl -sS --max-time 5 -H 'x-marker: {marker}' {url}");
        }
        return r;
    }

    private void Join(params Pod[] pods)
    {
        foreach (var pod in pods)
        {
            var r = _mesh.Add(pod);
            Assert.True(r.ExitCode == 0, $"CNI ADD for {pod} failed: {r.StdOut} {r.StdErr}");
        }
    }

    private async Task<string> DaemonLogAsync(Node node, string fragment)
    {
        for (int i = 0; i < 50 && !_mesh.Daemon(node).Output.Contains(fragment); i++)
            await Task.Delay(100);
        return _mesh.Daemon(node).Output;
    }

    [Fact]
    public async Task Curl_reaches_nginx_on_another_node_by_pod_ip_and_by_vip_through_hbone_and_the_wire_shows_only_tls()
    {
        Join(_sleep, _echo);
        using var capture = _cluster.Capture("tcp");
        const string marker = "plaintext-marker-7f3a";
        var byIp = await CurlAsync(_sleep, $"http://{_echo.IP}/", marker);
        Assert.True(byIp.Succeeded, byIp.StdErr);
        Assert.Equal("hello from echo\n", byIp.StdOut);
        var byVip = await CurlAsync(_sleep, $"http://{EchoVip}/", marker);
        Assert.True(byVip.Succeeded, byVip.StdErr);
        Assert.Equal("hello from echo\n", byVip.StdOut);
        var wire = capture.Stop();

        // Between the nodes there is only HBONE (port 15008, TLS): never the request or the response in clear.
        Assert.NotEmpty(wire.Packets);
        Assert.False(wire.Contains(marker), "the request marker crossed the wire in plaintext");
        Assert.False(wire.Contains("hello from echo"), "the response crossed the wire in plaintext");
        Assert.Contains("15008", wire.ToText("-n"));

        var inbound = await DaemonLogAsync(_echo.Node, "direction=inbound");
        Assert.Contains("src.identity=spiffe://cluster.local/ns/default/sa/sleep", inbound);
        Assert.Contains($"dst.addr={_echo.IP}:80", inbound);
        var outbound = await DaemonLogAsync(_sleep.Node, $"dst.addr={EchoVip}:80");
        Assert.Contains("route=hbone", outbound);
    }

    [Fact]
    public async Task Same_node_traffic_goes_through_hbone_and_outside_destinations_pass_through()
    {
        Join(_sleep, _local);
        var same = await CurlAsync(_sleep, $"http://{_local.IP}/");
        Assert.True(same.Succeeded, same.StdErr);
        Assert.Equal("hello from local\n", same.StdOut);
        Assert.Contains("src.identity=spiffe://cluster.local/ns/default/sa/sleep", await DaemonLogAsync(_local.Node, $"dst.addr={_local.IP}:80"));

        var outside = await CurlAsync(_sleep, $"http://{_outside.IP}/");
        Assert.True(outside.Succeeded, outside.StdErr);
        Assert.Equal("hello from outside\n", outside.StdOut);
        Assert.Contains("route=passthrough", await DaemonLogAsync(_sleep.Node, $"dst.addr={_outside.IP}:80"));
    }

    [Fact]
    public async Task A_running_pod_is_enrolled_and_unenrolled_without_restart_and_leaves_no_rule_behind()
    {
        // The client is outside the mesh, so what changes is only whether echo's node daemon sees the traffic.
        var before = _echo.ExecOrThrow("nft list ruleset");
        var direct = await CurlAsync(_outside, $"http://{_echo.IP}/");
        Assert.True(direct.Succeeded, direct.StdErr);
        Assert.DoesNotContain("inbound_plaintext", _mesh.Daemon(_echo.Node).Output);

        var enrolled = _mesh.Enroll(_echo);
        Assert.True(enrolled.Succeeded, enrolled.StdErr + enrolled.StdOut);
        Assert.Contains("table inet ambient", _echo.ExecOrThrow("nft list ruleset"));
        var captured = await CurlAsync(_outside, $"http://{_echo.IP}/");
        Assert.True(captured.Succeeded, captured.StdErr);
        Assert.Equal("hello from echo\n", captured.StdOut);
        Assert.Contains($"src.addr={_outside.IP}", await DaemonLogAsync(_echo.Node, "direction=inbound_plaintext"));

        var left = _mesh.Unenroll(_echo);
        Assert.True(left.Succeeded, left.StdErr);
        Assert.Equal(before, _echo.ExecOrThrow("nft list ruleset"));
        int seen = CountOf(_mesh.Daemon(_echo.Node).Output, "direction=inbound_plaintext");
        var again = await CurlAsync(_outside, $"http://{_echo.IP}/");
        Assert.True(again.Succeeded, again.StdErr);
        Assert.Equal("hello from echo\n", again.StdOut);
        await Task.Delay(300);
        Assert.Equal(seen, CountOf(_mesh.Daemon(_echo.Node).Output, "direction=inbound_plaintext"));
    }

    private static int CountOf(string text, string fragment)
    {
        int n = 0;
        for (int i = text.IndexOf(fragment, StringComparison.Ordinal); i >= 0; i = text.IndexOf(fragment, i + 1, StringComparison.Ordinal))
            n++;
        return n;
    }

    [Fact]
    public async Task Node_probes_still_reach_an_enrolled_pod_even_under_strict_mtls()
    {
        Join(_echo);
        var probe = await CurlAsync(_echo.Node, $"http://{_echo.IP}/");
        Assert.True(probe.Succeeded, probe.StdErr);
        Assert.Equal("hello from echo\n", probe.StdOut);

        File.WriteAllText(_mesh.ConfigPath, AmbientMesh.Config(_cluster, [new MeshService("echo", "default", EchoVip, 80, 80, "echo")], [_outside],
            "peerAuthentications:\n  - metadata: {name: default, namespace: istio-system}\n    spec: {mtls: {mode: STRICT}}\n"));
        // STRICT in force: a plaintext client outside the mesh is refused…
        ExecResult plain = _outside.Exec($"curl -sS --max-time 2 http://{_echo.IP}/");
        for (int i = 0; i < 50 && plain.Succeeded; i++)
        {
            await Task.Delay(100);
            plain = _outside.Exec($"curl -sS --max-time 2 http://{_echo.IP}/");
        }
        Assert.False(plain.Succeeded, "STRICT did not refuse a plaintext client");
        // …but the node's probe, SNATed to 169.254.7.127 by the agent, is let through unredirected.
        var strictProbe = await CurlAsync(_echo.Node, $"http://{_echo.IP}/");
        Assert.True(strictProbe.Succeeded, strictProbe.StdErr);
        Assert.Equal("hello from echo\n", strictProbe.StdOut);
    }

    [Fact]
    public async Task A_restarted_daemon_gets_its_pods_back_from_the_agent_within_two_seconds()
    {
        Join(_sleep, _echo);
        Assert.True((await CurlAsync(_sleep, $"http://{_echo.IP}/")).Succeeded);
        _mesh.KillDaemon(_echo.Node);
        await _mesh.StartDaemonAsync(_echo.Node);
        var started = DateTime.UtcNow;
        ExecResult r;
        do
        {
            r = _sleep.Exec($"curl -sS --max-time 1 http://{_echo.IP}/");
            if (r.Succeeded) break;
            await Task.Delay(50);
        }
        while (DateTime.UtcNow - started < TimeSpan.FromSeconds(10));
        Assert.True(r.Succeeded, $"no connection after the restart: {r.StdErr}\n{_mesh.Daemon(_echo.Node).Output}");
        Assert.True(DateTime.UtcNow - started < TimeSpan.FromSeconds(2), $"took {(DateTime.UtcNow - started).TotalMilliseconds:0} ms");
        Assert.Equal("hello from echo\n", r.StdOut);
    }

    [Fact]
    public async Task A_restarted_agent_restores_its_pods_from_the_rules_it_finds()
    {
        Join(_sleep, _echo);
        Assert.True((await CurlAsync(_sleep, $"http://{_echo.IP}/")).Succeeded);
        await _mesh.RestartAgentAsync(_echo.Node);
        Assert.Contains("restored 1 enrolled pods", await WaitForAsync(() => _mesh.Agent(_echo.Node).Output, "restored"));
        // Traffic keeps flowing, and the new agent knows the pod well enough to take it out of the mesh cleanly.
        Assert.True((await CurlAsync(_sleep, $"http://{_echo.IP}/")).Succeeded);
        var left = _mesh.Unenroll(_echo);
        Assert.True(left.Succeeded, left.StdErr);
        Assert.DoesNotContain("table inet ambient", _echo.ExecOrThrow("nft list ruleset"));
    }

    private static async Task<string> WaitForAsync(Func<string> read, string fragment)
    {
        for (int i = 0; i < 100 && !read().Contains(fragment); i++)
            await Task.Delay(50);
        return read();
    }

    private static Task<ExecResult> CurlAsync(Node from, string url)
    {
        var r = from.Exec($"curl -sS --max-time 5 {url}");
        return Task.FromResult(r);
    }
}

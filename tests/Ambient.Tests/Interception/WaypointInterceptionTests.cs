using System.Net;
using Ambient.TestBed;

namespace Ambient.Tests.Interception;

/// <summary>
/// The waypoint on the network-namespace test bed: curl in an enrolled pod → its node's daemon (intercepted) →
/// the waypoint in its own pod → the destination node's daemon → nginx, with L7 policy applied on the way.
/// </summary>
[Collection("interception")]
public sealed class WaypointInterceptionTests : IAsyncLifetime
{
    private Cluster _cluster = null!;
    private AmbientMesh _mesh = null!;
    private Pod _sleep = null!, _curl = null!, _echo = null!, _echoV2 = null!, _waypoint = null!;
    private string _dir = null!;
    private NetnsProcess _nginx = null!, _nginxV2 = null!;
    private NetnsProcess _waypointProcess = null!;
    private readonly IPAddress _vip = IPAddress.Parse("10.96.7.7");

    public async Task InitializeAsync()
    {
        Assert.True(Cluster.IsSupported(out var reason), reason);
        _dir = Directory.CreateTempSubdirectory("ambient-waypoint-").FullName;
        _cluster = Cluster.Create(new ClusterOptions { Prefix = "ambw" });
        var node1 = _cluster.AddNode("node1");
        var node2 = _cluster.AddNode("node2");
        _sleep = node1.AddPod("default", "sleep", "sleep");
        _curl = node1.AddPod("default", "curl", "curl");
        _echo = node2.AddPod("default", "echo", "echo");
        _echoV2 = node2.AddPod("default", "echo-v2", "echo");
        _waypoint = node2.AddPod("default", "waypoint", "waypoint");
        _nginx = Nginx.Start(_echo, Path.Combine(_dir, "echo"));
        _nginxV2 = Nginx.Start(_echoV2, Path.Combine(_dir, "echo-v2"));
        _mesh = await AmbientMesh.StartAsync(_cluster, AmbientBinaries.NextTo(AppContext.BaseDirectory), []);
        WriteConfig("");
        // The waypoint pod is not enrolled: it speaks HBONE itself (as Istio's waypoints run outside the ambient capture).
        foreach (var pod in new[] { _sleep, _curl, _echo, _echoV2 })
            Assert.Equal(0, _mesh.Add(pod).ExitCode);
        _waypointProcess = _waypoint.Start("dotnet", [Path.Combine(AppContext.BaseDirectory, "ambient-waypoint.dll"),
            "--config", _mesh.ConfigPath, "--workload", "default/waypoint", "--state-dir", _mesh.StateDirectory, "--log-format", "text"]);
        Assert.True(await _waypointProcess.WaitForOutputAsync("ready: waypoint", TimeSpan.FromSeconds(30)), _waypointProcess.Output);
    }

    public async Task DisposeAsync()
    {
        _waypointProcess.Dispose();
        await _mesh.DisposeAsync();
        _nginx.Dispose();
        _nginxV2.Dispose();
        _cluster.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    private void WriteConfig(string policies) => File.WriteAllText(_mesh.ConfigPath, AmbientMesh.Config(_cluster, [], [], $"""
        services:
          - {"{"}name: waypoint, namespace: default, vips: [10.96.7.8], ports: {"{"}15008: 15008{"}"}, selector: {"{"}app: waypoint{"}"}{"}"}
          - {"{"}name: echo, namespace: default, vips: [{_vip}], ports: {"{"}80: 80{"}"}, selector: {"{"}role: echo{"}"}, waypoint: default/waypoint{"}"}
          - {"{"}name: echo-v1, namespace: default, vips: [10.96.7.9], ports: {"{"}80: 80{"}"}, selector: {"{"}app: echo{"}"}{"}"}
          - {"{"}name: echo-v2, namespace: default, vips: [10.96.7.10], ports: {"{"}80: 80{"}"}, selector: {"{"}app: echo-v2{"}"}{"}"}
        {policies}
        """));

    private ExecResult Curl(Pod from, string method = "GET") =>
        from.Exec($"curl -sS --max-time 3 -o /dev/null -w '%{{http_code}}' -X {method} http://{_vip}/");

    private static async Task<bool> EventuallyAsync(Func<bool> condition, int tries = 60)
    {
        for (int i = 0; i < tries; i++)
        {
            if (condition()) return true;
            await Task.Delay(100);
        }
        return false;
    }

    [Fact]
    public async Task Requests_to_a_service_with_a_waypoint_go_through_it_and_its_L7_policy_applies()
    {
        Assert.True(await EventuallyAsync(() => Curl(_sleep).StdOut == "200"), $"curl through the waypoint: {Curl(_sleep)}");
        Assert.Contains("request complete method=GET path=/", _waypointProcess.Output);
        Assert.Contains("route=waypoint", _mesh.Daemon(_sleep.Node).Output);

        WriteConfig("""
            authorizationPolicies:
              - metadata: {name: echo-get-for-sleep, namespace: default}
                spec:
                  targetRefs: [{group: gateway.networking.k8s.io, kind: Gateway, name: waypoint}]
                  action: ALLOW
                  rules:
                    - from: [{source: {principals: ["cluster.local/ns/default/sa/sleep"]}}]
                      to: [{operation: {methods: [GET]}}]
            """);
        Assert.True(await EventuallyAsync(() => Curl(_sleep, "DELETE").StdOut == "403"), $"DELETE should be denied: {Curl(_sleep, "DELETE")}");
        Assert.Equal("200", Curl(_sleep).StdOut);
        Assert.Equal("403", Curl(_curl).StdOut);
    }

    [Fact]
    public async Task An_HTTPRoute_sends_x_user_tester_to_v2_and_everything_else_to_v1()
    {
        WriteConfig("""
            httpRoutes:
              - metadata: {name: echo, namespace: default}
                spec:
                  parentRefs: [{group: "", kind: Service, name: echo, port: 80}]
                  rules:
                    - matches: [{headers: [{name: x-user, value: tester}]}]
                      backendRefs: [{name: echo-v2, port: 80}]
                    - backendRefs: [{name: echo-v1, port: 80}]
            """);
        string Get(string header = "") => _sleep.Exec($"curl -sS --max-time 3 {header} http://{_vip}/").StdOut.Trim();
        Assert.True(await EventuallyAsync(() => Get("-H 'x-user: tester'") == "hello from echo-v2"), $"tester: {Get("-H 'x-user: tester'")}");
        for (int i = 0; i < 10; i++)
        {
            Assert.Equal("hello from echo-v2", Get("-H 'x-user: tester'"));
            Assert.Equal("hello from echo", Get());
        }
    }
}

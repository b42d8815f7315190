using Ambient.TestBed;

namespace Ambient.Tests.Ctl;

/// <summary>
/// <c>ambientctl explain</c> on a node of the network-namespace test bed, as an operator runs it there: inside the
/// node's namespace, against the daemon's default admin address (127.0.0.1:15000 of that namespace). Explain only
/// consults the config, so the waypoint needs no process of its own and no pod is enrolled.
/// </summary>
[Collection("interception")]
public sealed class ExplainInTestBedTests : IAsyncLifetime
{
    private Cluster _cluster = null!;
    private AmbientMesh _mesh = null!;
    private Node _node = null!;
    private Pod _sleep = null!, _curl = null!, _echo = null!, _waypoint = null!, _outside = null!;

    /// <summary>The echo service, which names a waypoint: traffic to its VIP goes through the waypoint's pod.</summary>
    private const string EchoVip = "10.96.0.10";

    public async Task InitializeAsync()
    {
        Assert.True(Cluster.IsSupported(out var reason), reason);
        _cluster = Cluster.Create(new ClusterOptions { Prefix = "ambc" });
        _node = _cluster.AddNode("node1");
        _sleep = _node.AddPod("default", "sleep", "sleep");
        _curl = _node.AddPod("default", "curl", "curl");
        _echo = _node.AddPod("default", "echo", "echo");
        _waypoint = _node.AddPod("default", "waypoint", "waypoint");
        _outside = _node.AddPod("default", "outside");
        // The test bed labels each pod app=<its name>; the waypoint service selects its pod by that label.
        _mesh = await AmbientMesh.StartAsync(_cluster, AmbientBinaries.NextTo(AppContext.BaseDirectory), [], outsideMesh: [_outside], extraYaml: $$$"""
            services:
              - name: echo
                namespace: default
                vips: [{{{EchoVip}}}]
                ports: {80: 8080}
                selector: {app: echo}
                waypoint: default/waypoint
              - name: waypoint
                namespace: default
                vips: [10.96.0.99]
                ports: {15008: 15008}
                selector: {app: waypoint}
            authorizationPolicies:
              - metadata: {name: echo-allow-sleep, namespace: default}
                spec:
                  selector: {matchLabels: {app: echo}}
                  action: ALLOW
                  rules: [{from: [{source: {principals: ["cluster.local/ns/default/sa/sleep"]}}]}]

            """);
    }

    public async Task DisposeAsync()
    {
        if (_mesh is not null) await _mesh.DisposeAsync();
        _cluster?.Dispose();
    }

    /// <summary>ambientctl in the node's namespace with no --admin: the default must find the node's daemon.</summary>
    private async Task<ExecResult> ExplainAsync(string source, string destination)
    {
        var until = DateTime.UtcNow.AddSeconds(15);
        while (true)
        {
            var result = _node.Exec("dotnet", [CtlProcess.DllPath, "explain", source, destination]);
            // Exit 1 = admin API not answering yet (the daemon was started moments ago); anything else is an answer.
            if (result.ExitCode != 1 || DateTime.UtcNow > until) return result;
            await Task.Delay(200);
        }
    }

    private static string Describe(ExecResult r) => $"exit {r.ExitCode}\n{r.StdOut}\n{r.StdErr}";

    [Fact]
    public async Task Explain_gives_the_verdict_and_reason_for_allowed_denied_waypoint_and_passthrough_connections()
    {
        // Allowed: sleep's principal is the one the ALLOW policy names.
        var allowed = await ExplainAsync("default/sleep", $"{_echo.IP}:8080");
        Assert.True(allowed.ExitCode == 0, Describe(allowed));
        Assert.Matches(@"(?m)^waypoint +none: direct to the destination workload$", allowed.StdOut);
        Assert.Matches(@"(?m)^default/echo-allow-sleep +ALLOW +matched$", allowed.StdOut);
        Assert.EndsWith("RESULT: ALLOW\nREASON: allowed by ALLOW policy default/echo-allow-sleep\n", allowed.StdOut);

        // Denied: curl is not that principal, and with an ALLOW policy present only a match allows. By IP, as a
        // user pasting an address from a log would ask.
        var denied = await ExplainAsync(_curl.IP.ToString(), $"{_echo.IP}:8080");
        Assert.True(denied.ExitCode == 3, Describe(denied));
        Assert.Contains("SOURCE:       default/curl\n", denied.StdOut);
        Assert.Matches(@"(?m)^default/echo-allow-sleep +ALLOW +not matched$", denied.StdOut);
        Assert.EndsWith("RESULT: DENY\nREASON: no ALLOW policy matched\n", denied.StdOut);

        // Waypoint-bound: the service names a waypoint, so the tunnel ends at the waypoint's pod, whose policies decide
        // at L4 (the ALLOW for app=echo does not select it) before the waypoint applies L7.
        var viaWaypoint = await ExplainAsync("default/curl", $"{EchoVip}:80");
        Assert.True(viaWaypoint.ExitCode == 0, Describe(viaWaypoint));
        Assert.Matches(@"(?m)^waypoint +traffic for service default/echo goes through waypoint default/waypoint$", viaWaypoint.StdOut);
        Assert.Matches($@"(?m)^endpoint +default/waypoint at {_waypoint.IP} ", viaWaypoint.StdOut);
        Assert.Matches($@"(?m)^tunnel +HBONE to {_waypoint.IP}:15008, CONNECT {EchoVip}:80, expecting spiffe://cluster.local/ns/default/sa/waypoint$", viaWaypoint.StdOut);
        Assert.Contains("POLICIES: none consulted\n", viaWaypoint.StdOut);
        Assert.EndsWith("RESULT: ALLOW\nREASON: no ALLOW policy applies\n", viaWaypoint.StdOut);

        // Passthrough: a pod that is not in the mesh is just an address; the connection goes out unchanged.
        var passthrough = await ExplainAsync("default/sleep", $"{_outside.IP}:80");
        Assert.True(passthrough.ExitCode == 0, Describe(passthrough));
        Assert.Matches($@"(?m)^route +passthrough: connect to {_outside.IP}:80 directly, unchanged$", passthrough.StdOut);
        Assert.EndsWith("RESULT: PASSTHROUGH\nREASON: destination is outside the mesh\n", passthrough.StdOut);
    }
}

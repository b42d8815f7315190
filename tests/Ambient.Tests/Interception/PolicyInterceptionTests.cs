using System.Net;
using System.Net.Sockets;
using Ambient.TestBed;

namespace Ambient.Tests.Interception;

/// <summary>Istio policies on real pods: what a user applies is enforced on the next connection and on open ones.</summary>
[Collection("interception")]
public sealed class PolicyInterceptionTests : IAsyncLifetime
{
    private Cluster _cluster = null!;
    private AmbientMesh _mesh = null!;
    private Pod _sleep = null!, _curl = null!, _echo = null!;
    private string _dir = null!;
    private NetnsProcess _nginx = null!;
    private EchoServerInPod _echoServer = null!;

    public async Task InitializeAsync()
    {
        Assert.True(Cluster.IsSupported(out var reason), reason);
        _dir = Directory.CreateTempSubdirectory("ambient-policy-").FullName;
        _cluster = Cluster.Create(new ClusterOptions { Prefix = "ambp" });
        var node1 = _cluster.AddNode("node1");
        var node2 = _cluster.AddNode("node2");
        _sleep = node1.AddPod("default", "sleep", "sleep");
        _curl = node1.AddPod("default", "curl", "curl");
        _echo = node2.AddPod("default", "echo", "echo");
        _nginx = Nginx.Start(_echo, Path.Combine(_dir, "echo"));
        _echoServer = new EchoServerInPod(_echo, 9000);
        _mesh = await AmbientMesh.StartAsync(_cluster, AmbientBinaries.NextTo(AppContext.BaseDirectory), []);
        foreach (var pod in new[] { _sleep, _curl, _echo })
            Assert.Equal(0, _mesh.Add(pod).ExitCode);
    }

    public async Task DisposeAsync()
    {
        await _mesh.DisposeAsync();
        _echoServer.Dispose();
        _nginx.Dispose();
        _cluster.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    private void ApplyPolicies(string yaml) => File.WriteAllText(_mesh.ConfigPath, AmbientMesh.Config(_cluster, [], [], yaml));

    private static async Task<bool> EventuallyAsync(Func<bool> condition, int tries = 50)
    {
        for (int i = 0; i < tries; i++)
        {
            if (condition()) return true;
            await Task.Delay(100);
        }
        return false;
    }

    private bool CurlOk(Pod from) => from.Exec($"curl -sS --max-time 2 http://{_echo.IP}/").Succeeded;

    [Fact]
    public async Task An_allow_on_one_principal_lets_only_that_pod_in()
    {
        Assert.True(await EventuallyAsync(() => CurlOk(_sleep) && CurlOk(_curl)), "both pods should reach echo with no policy");
        ApplyPolicies("""
            authorizationPolicies:
              - apiVersion: security.istio.io/v1
                kind: AuthorizationPolicy
                metadata: {name: echo-allow-sleep, namespace: default}
                spec:
                  selector: {matchLabels: {app: echo}}
                  action: ALLOW
                  rules:
                    - from: [{source: {principals: ["cluster.local/ns/default/sa/sleep"]}}]

            """);
        Assert.True(await EventuallyAsync(() => !CurlOk(_curl)), "curl is still let in");
        Assert.True(CurlOk(_sleep), "sleep is no longer let in");
        Assert.Contains("no ALLOW policy matched", _mesh.Daemon(_echo.Node).Output);
    }

    [Fact]
    public async Task A_deny_added_while_a_long_connection_is_open_closes_it()
    {
        using var socket = _sleep.CreateSocket();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        await socket.ConnectAsync(new IPEndPoint(_echo.IP, 9000), cts.Token);
        await socket.SendAsync("ping"u8.ToArray(), SocketFlags.None, cts.Token);
        var buffer = new byte[64];
        Assert.Equal(4, await socket.ReceiveAsync(buffer, SocketFlags.None, cts.Token));

        ApplyPolicies("""
            authorizationPolicies:
              - metadata: {name: deny-sleep, namespace: default}
                spec:
                  action: DENY
                  rules: [{from: [{source: {principals: ["cluster.local/ns/default/sa/sleep"]}}]}]

            """);
        int n;
        try { n = await socket.ReceiveAsync(buffer, SocketFlags.None, cts.Token); }
        catch (SocketException) { n = 0; }
        Assert.Equal(0, n);
        Assert.True(await EventuallyAsync(() => _mesh.Daemon(_echo.Node).Output.Contains("no longer allowed")));
        Assert.True(CurlOk(_curl), "the DENY names only sleep");
    }

    /// <summary>A TCP echo server whose listening socket lives in the pod.</summary>
    private sealed class EchoServerInPod : IDisposable
    {
        private readonly Socket _listener;

        public EchoServerInPod(Pod pod, int port)
        {
            _listener = pod.CreateSocket(new IPEndPoint(IPAddress.Any, port), listen: true);
            _ = Task.Run(async () =>
            {
                while (true)
                {
                    Socket s;
                    try { s = await _listener.AcceptAsync(); } catch { return; }
                    _ = Task.Run(async () =>
                    {
                        using (s)
                        {
                            var b = new byte[4096];
                            try
                            {
                                int r;
                                while ((r = await s.ReceiveAsync(b, SocketFlags.None)) > 0)
                                    await s.SendAsync(b.AsMemory(0, r), SocketFlags.None);
                            }
                            catch (SocketException) { }
                        }
                    });
                }
            });
        }

        public void Dispose() => _listener.Dispose();
    }
}

using System.Net;
using System.Net.Sockets;
using Ambient.Daemon;
using Ambient.Tests.EndToEnd;
using Ambient.Tests.Support;
using static Ambient.Tests.Kubernetes.KubeObjects;

namespace Ambient.Tests.Kubernetes;

/// <summary>
/// The daemon on a Kubernetes source: pods discovered from the (fake) API server are served and carry traffic
/// through HBONE; a policy applied through the API takes effect.
/// </summary>
public sealed class KubernetesDaemonTests
{
    [Fact]
    public async Task Daemons_discover_pods_from_the_api_and_tunnel_between_them()
    {
        await using var server = await FakeApiServer.StartAsync();
        var sleepIp = TestAddresses.Next();
        var echoIp = TestAddresses.Next();
        server.Apply(Namespace("demo", ("istio.io/dataplane-mode", "ambient")));
        server.Apply(Pod("demo", "sleep", sleepIp.ToString(), "sleep", node: "node-a"));
        server.Apply(Pod("demo", "echo", echoIp.ToString(), "echo", node: "node-b"));
        await using var echo = new EchoServer(echoIp, 8080);
        var dir = Directory.CreateTempSubdirectory("ambient-k8s-daemon-").FullName;
        var kubeconfig = server.WriteKubeconfig(dir);
        using (var ca = Ambient.Identity.MeshCa.LoadOrCreate(Path.Combine(dir, "state"))) { }
        var logs = new LogCapture();
        NodeDaemon Daemon(string node) => new(new DaemonOptions
        {
            Kubernetes = true, Kubeconfig = kubeconfig, Node = node, StateDirectory = Path.Combine(dir, "state"), ReadinessEndpoint = null, MetricsEndpoint = null, AdminEndpoint = null,
        }, logs);
        await using var a = Daemon("node-a");
        await using var b = Daemon("node-b");
        try
        {
            await a.StartAsync();
            await b.StartAsync();
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
            using (var s = await Socks5Client.ConnectAsync(new IPEndPoint(sleepIp, 15080), new IPEndPoint(echoIp, 8080), cts.Token))
            {
                await s.SendAsync("k8s"u8.ToArray(), SocketFlags.None, cts.Token);
                s.Shutdown(SocketShutdown.Send);
                Assert.Equal("k8s"u8.ToArray(), await TunnelTests.ReadToEndAsync(s, cts.Token));
            }
            Assert.NotNull(await logs.WaitForAsync(TimeSpan.FromSeconds(5), "direction=inbound", "src.identity=spiffe://cluster.local/ns/demo/sa/sleep"));

            // A DENY applied through the API reaches both daemons and refuses the next connection.
            server.Apply(System.Text.Json.Nodes.JsonNode.Parse("""
                {"apiVersion":"security.istio.io/v1","kind":"AuthorizationPolicy",
                 "metadata":{"name":"deny-sleep","namespace":"demo"},
                 "spec":{"action":"DENY","rules":[{"from":[{"source":{"principals":["cluster.local/ns/demo/sa/sleep"]}}]}]}}
                """)!.AsObject());
            var refused = false;
            for (int i = 0; i < 100 && !refused; i++)
            {
                try { using var s = await Socks5Client.ConnectAsync(new IPEndPoint(sleepIp, 15080), new IPEndPoint(echoIp, 8080), cts.Token); await Task.Delay(50); }
                catch (Socks5RefusedException) { refused = true; }
            }
            Assert.True(refused, "the DENY policy from the API was not applied");
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}

using System.Net;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using Ambient.Daemon;
using Ambient.Tests.Support;
using Ambient.Tests.Waypoint;
using Ambient.Waypoint;
using Xunit.Abstractions;
using static Ambient.Tests.Kubernetes.KubeObjects;

namespace Ambient.Tests.Kubernetes;

/// <summary>
/// The waypoint on the Kubernetes source, as it runs in a cluster: its routes and L7 policies come from HTTPRoute and
/// AuthorizationPolicy objects in the (fake) API server, its own identity and address from its pod, and the services it
/// serves are those labelled <c>istio.io/use-waypoint</c>. Traffic goes sleep → node-a daemon → waypoint → node-b daemon
/// → reviews-v1/v2 over HBONE on loopback, and changes made through the API reach the waypoint while it runs.
/// </summary>
public sealed class KubernetesWaypointTests(ITestOutputHelper output)
{
    /// <summary>GAMMA route on Service reviews: <c>x-user: tester</c> to reviews-v2, everything else to reviews-v1.</summary>
    private static JsonObject ReviewsRoute(bool allToV2 = false) => HttpRoute("reviews", allToV2
        ? """[{"backendRefs": [{"name": "reviews-v2", "port": 80}]}]"""
        : """
          [{"matches": [{"headers": [{"name": "x-user", "value": "tester"}]}], "backendRefs": [{"name": "reviews-v2", "port": 80}]},
           {"backendRefs": [{"name": "reviews-v1", "port": 80}]}]
          """);

    private static JsonObject HttpRoute(string name, string rules) => JsonNode.Parse($$$"""
        {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
         "metadata": {"name": "{{{name}}}", "namespace": "demo"},
         "spec": {"parentRefs": [{"group": "", "kind": "Service", "name": "reviews", "port": 80}], "rules": {{{rules}}}}}
        """)!.AsObject();

    [Fact]
    public Task HTTPRoute_from_the_api_routes_through_the_waypoint_and_follows_changes_and_an_invalid_route_is_rejected_alone() =>
        WaypointCluster.RunAsync(output, [ReviewsRoute()], async cluster =>
        {
            using var client = cluster.Client();

            // x-user: tester → v2, the rest → v1, every request through the waypoint.
            for (int i = 0; i < 10; i++)
            {
                Assert.Equal("v2", await cluster.GetAsync(client, tester: true));
                Assert.Equal("v1", await cluster.GetAsync(client, tester: false));
            }
            Assert.Equal(10, cluster.AppV1.Requests);
            Assert.Equal(10, cluster.AppV2.Requests);
            await cluster.WaitForWaypointRequestsAsync(20);
            Assert.NotNull(await cluster.WaypointLogs.WaitForAsync(TimeSpan.FromSeconds(10),
                "request complete method=GET", "src.identity=spiffe://cluster.local/ns/demo/sa/sleep", "dst.service=reviews.demo.svc.cluster.local", "route=demo/reviews#"));

            // The route changed through the API: everything to v2.
            cluster.Server.Apply(ReviewsRoute(allToV2: true));
            await cluster.EventuallyAsync(client, tester: false, expected: "v2", "the waypoint did not follow the HTTPRoute change (all to v2)");

            // An invalid route (a negative weight) and, next to it, a valid change back to the header split. Were the
            // invalid route taken, its exact-path rule would outrank the valid route's catch-all and send "/" to v2.
            cluster.Server.Apply(HttpRoute("reviews-broken", """
                [{"matches": [{"path": {"type": "Exact", "value": "/"}}],
                  "backendRefs": [{"name": "reviews-v2", "port": 80, "weight": 1}, {"name": "reviews-v1", "port": 80, "weight": -1}]}]
                """));
            cluster.Server.Apply(ReviewsRoute());
            await cluster.EventuallyAsync(client, tester: false, expected: "v1", "the valid HTTPRoute change was not applied next to the invalid one");
            Assert.NotNull(await cluster.WaypointLogs.WaitForAsync(TimeSpan.FromSeconds(10),
                "Ignoring Kubernetes HTTPRoute demo/reviews-broken", "spec.rules[0].backendRefs[1].weight", "-1"));
            Assert.DoesNotContain(cluster.WaypointLogs.Lines, l => l.Contains("HTTPRoute demo/reviews:", StringComparison.Ordinal));
            for (int i = 0; i < 10; i++)
            {
                Assert.Equal("v2", await cluster.GetAsync(client, tester: true));
                Assert.Equal("v1", await cluster.GetAsync(client, tester: false));
            }
        });

    [Fact]
    public Task A_waypoint_started_before_its_pod_is_Running_waits_for_it_and_then_serves() =>
        WaypointCluster.RunAsync(output, [ReviewsRoute()], async cluster =>
        {
            Assert.Contains(cluster.WaypointLogs.Lines, l => l.Contains("waiting for workload demo/waypoint-", StringComparison.Ordinal));
            using var client = cluster.Client();
            await cluster.EventuallyAsync(client, tester: true, "v2", "tester through the waypoint");
            await cluster.EventuallyAsync(client, tester: false, "v1", "others through the waypoint");
        }, waypointPodPending: true);

    [Fact]
    public Task L7_AuthorizationPolicy_from_the_api_on_the_waypoint_Gateway_allows_GET_and_denies_DELETE_with_403() =>
        WaypointCluster.RunAsync(output, [ReviewsRoute()], async cluster =>
        {
            using var client = cluster.Client();
            using (var delete = await client.DeleteAsync("/"))
                Assert.Equal(HttpStatusCode.OK, delete.StatusCode); // no policy yet

            cluster.Server.Apply(JsonNode.Parse("""
                {"apiVersion": "security.istio.io/v1", "kind": "AuthorizationPolicy",
                 "metadata": {"name": "reviews-get-only", "namespace": "demo"},
                 "spec": {"targetRefs": [{"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": "waypoint"}],
                          "action": "ALLOW",
                          "rules": [{"to": [{"operation": {"methods": ["GET"]}}]}]}}
                """)!.AsObject());
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
            HttpStatusCode status;
            while (true)
            {
                using (var delete = await client.DeleteAsync("/")) status = delete.StatusCode;
                if (status == HttpStatusCode.Forbidden || DateTime.UtcNow > deadline) break;
                Assert.Equal(HttpStatusCode.OK, status);
                await Task.Delay(100);
            }
            Assert.True(status == HttpStatusCode.Forbidden, "the AuthorizationPolicy on the waypoint Gateway from the API was not enforced: DELETE still allowed");

            var v1Before = cluster.AppV1.Requests;
            var v2Before = cluster.AppV2.Requests;
            for (int i = 0; i < 5; i++)
            {
                using (var delete = await client.DeleteAsync("/"))
                {
                    Assert.Equal(HttpStatusCode.Forbidden, delete.StatusCode);
                    Assert.Equal("RBAC: access denied", await delete.Content.ReadAsStringAsync());
                }
                Assert.Equal("v1", await cluster.GetAsync(client, tester: false));
                Assert.Equal("v2", await cluster.GetAsync(client, tester: true));
            }
            Assert.Equal(v1Before + 5, cluster.AppV1.Requests); // the denied requests never reached an application
            Assert.Equal(v2Before + 5, cluster.AppV2.Requests);
            Assert.NotNull(await cluster.WaypointLogs.WaitForAsync(TimeSpan.FromSeconds(10), "request complete method=DELETE", "status=403", "dst.service=reviews.demo.svc.cluster.local"));
        });
}

/// <summary>
/// A cluster in one process: namespace demo (ambient) with pods sleep (node-a), reviews-v1/v2 and the waypoint
/// (node-b), Services reviews (istio.io/use-waypoint: waypoint), reviews-v1, reviews-v2 and the waypoint's own, with
/// EndpointSlices, a Gateway of class istio-waypoint, and the given extra objects, all served by a
/// <see cref="FakeApiServer"/>; two <see cref="NodeDaemon"/>s and a <see cref="WaypointHost"/> on the Kubernetes
/// source, sharing the mesh CA; <see cref="MeshHttpApp"/>s at the reviews pods' addresses.
/// </summary>
internal sealed class WaypointCluster : IAsyncDisposable
{
    /// <summary>A pod name as a Deployment makes it: the waypoint is told its pod, not its Gateway.</summary>
    public const string WaypointPod = "waypoint-7c9d5b6f8-q2x7k";

    private readonly string _dir = Directory.CreateTempSubdirectory("ambient-k8s-waypoint-").FullName;
    private readonly List<IAsyncDisposable> _owned = [];

    private WaypointCluster(FakeApiServer server) => Server = server;

    public FakeApiServer Server { get; }
    public IPAddress SleepIp { get; } = TestAddresses.Next();
    public IPAddress V1Ip { get; } = TestAddresses.Next();
    public IPAddress V2Ip { get; } = TestAddresses.Next();
    public IPAddress WaypointIp { get; } = TestAddresses.Next();
    public IPAddress ReviewsVip { get; } = TestAddresses.Next();
    public IPEndPoint WaypointMetrics { get; } = new(TestAddresses.Next(), 15020);
    public LogCapture DaemonLogs { get; } = new();
    public LogCapture WaypointLogs { get; } = new();
    public MeshHttpApp AppV1 { get; private set; } = null!;
    public MeshHttpApp AppV2 { get; private set; } = null!;
    public WaypointHost Waypoint { get; private set; } = null!;

    /// <summary>
    /// Starts the cluster with <paramref name="objects"/> in the API as well, runs <paramref name="test"/>, and disposes
    /// everything; when anything fails, the daemons' and the waypoint's logs go to the test output.
    /// </summary>
    public static async Task RunAsync(ITestOutputHelper output, JsonObject[] objects, Func<WaypointCluster, Task> test, bool waypointPodPending = false)
    {
        var cluster = new WaypointCluster(await FakeApiServer.StartAsync());
        try
        {
            await cluster.StartAsync(objects, waypointPodPending);
            await test(cluster);
        }
        catch
        {
            output.WriteLine("--- daemons (node-a, node-b)");
            foreach (var line in cluster.DaemonLogs.Lines) output.WriteLine(line);
            output.WriteLine("--- waypoint");
            foreach (var line in cluster.WaypointLogs.Lines) output.WriteLine(line);
            throw;
        }
        finally
        {
            await cluster.DisposeAsync();
        }
    }

    private async Task StartAsync(JsonObject[] objects, bool waypointPodPending)
    {
        (string, string)[] waypointLabels =
        [
            ("gateway.networking.k8s.io/gateway-name", "waypoint"),
            ("gateway.istio.io/managed", "istio.io-mesh-controller"),
        ];
        Server.Apply(Namespace("demo", ("istio.io/dataplane-mode", "ambient")));
        Server.Apply(Pod("demo", "sleep", SleepIp.ToString(), "sleep", node: "node-a", labels: [("app", "sleep")]));
        Server.Apply(Pod("demo", "reviews-v1", V1Ip.ToString(), "reviews", node: "node-b", labels: [("app", "reviews"), ("version", "v1")], ports: [("http", 8080)]));
        Server.Apply(Pod("demo", "reviews-v2", V2Ip.ToString(), "reviews", node: "node-b", labels: [("app", "reviews"), ("version", "v2")], ports: [("http", 8080)]));
        JsonObject WaypointPodObject(string phase) => Pod("demo", WaypointPod, WaypointIp.ToString(), "waypoint", node: "node-b",
            labels: [.. waypointLabels, ("istio.io/dataplane-mode", "none")], ports: [("mesh", 15008)], phase: phase);
        Server.Apply(WaypointPodObject(waypointPodPending ? "Pending" : "Running"));
        Server.Apply(WaypointGateway("demo", "waypoint", hostname: "waypoint.demo.svc.cluster.local"));
        Server.Apply(Service("demo", "waypoint", TestAddresses.Next().ToString(), [("mesh", 15008, 15008)],
            selector: [("gateway.networking.k8s.io/gateway-name", "waypoint")], labels: waypointLabels));
        Server.Apply(EndpointSlice("demo", "waypoint", "waypoint-x1", [(WaypointPod, WaypointIp.ToString(), true)], [("mesh", 15008)]));
        Server.Apply(Service("demo", "reviews", ReviewsVip.ToString(), [("http", 80, 8080)],
            selector: [("app", "reviews")], labels: [("istio.io/use-waypoint", "waypoint")]));
        Server.Apply(EndpointSlice("demo", "reviews", "reviews-x1", [("reviews-v1", V1Ip.ToString(), true), ("reviews-v2", V2Ip.ToString(), true)], [("http", 8080)]));
        foreach (var version in new[] { "v1", "v2" })
        {
            Server.Apply(Service("demo", $"reviews-{version}", TestAddresses.Next().ToString(), [("http", 80, 8080)],
                selector: [("app", "reviews"), ("version", version)]));
            Server.Apply(EndpointSlice("demo", $"reviews-{version}", $"reviews-{version}-x1",
                [($"reviews-{version}", version == "v1" ? V1Ip.ToString() : V2Ip.ToString(), true)], [("http", 8080)]));
        }
        foreach (var o in objects) Server.Apply(o);

        var kubeconfig = Server.WriteKubeconfig(_dir);
        var state = Path.Combine(_dir, "state");
        using (Ambient.Identity.MeshCa.LoadOrCreate(state)) { } // once, before the processes race to create it

        AppV1 = Own(await MeshHttpApp.StartAsync(V1Ip, "v1"));
        AppV2 = Own(await MeshHttpApp.StartAsync(V2Ip, "v2"));
        foreach (var node in new[] { "node-a", "node-b" })
        {
            var daemon = Own(new NodeDaemon(new DaemonOptions
            {
                Kubernetes = true, Kubeconfig = kubeconfig, Node = node, StateDirectory = state,
                ReadinessEndpoint = null, MetricsEndpoint = null, AdminEndpoint = null,
            }, DaemonLogs));
            await daemon.StartAsync();
        }
        // As its Deployment runs it: --kubernetes --workload $POD_NAMESPACE/$POD_NAME.
        Waypoint = Own(new WaypointHost(new WaypointOptions
        {
            Kubernetes = true,
            Kubeconfig = kubeconfig,
            Workload = $"demo/{WaypointPod}",
            StateDirectory = state,
            MetricsEndpoint = WaypointMetrics,
            ReadinessEndpoint = null,
        }, WaypointLogs));
        var starting = Waypoint.StartAsync();
        if (waypointPodPending)
        {
            // Its own pod is not Running with an IP yet (the process started first): it waits instead of exiting.
            await Task.Delay(1500);
            Assert.False(starting.IsCompleted, "the waypoint did not wait for its pod");
            Server.Apply(WaypointPodObject("Running"));
        }
        await starting;

        // The waypoint's pod is on node-b, but its HBONE port is the waypoint's own: node-b's daemon must leave it
        // alone (both would listen, and the kernel would split the tunnels between them).
        Assert.Contains(DaemonLogs.Lines, l => l.Contains("serving workload uid-demo-reviews-v1", StringComparison.Ordinal));
        Assert.DoesNotContain(DaemonLogs.Lines, l => l.Contains($"listening on {WaypointIp}:", StringComparison.Ordinal));
        // It serves the waypoint its pod's gateway-name label names (the Gateway, and its Service, of the same name).
        Assert.Contains(WaypointLogs.Lines, l => l.Contains($"ready: waypoint demo/waypoint (spiffe://cluster.local/ns/demo/sa/waypoint) serving HBONE on {WaypointIp}:15008", StringComparison.Ordinal));
    }

    private T Own<T>(T disposable) where T : IAsyncDisposable
    {
        _owned.Add(disposable);
        return disposable;
    }

    /// <summary>An HTTP client for http://reviews:80 whose connections leave from sleep through node-a's SOCKS5 port.</summary>
    public HttpClient Client()
    {
        var socks5 = new IPEndPoint(SleepIp, 15080);
        var handler = new SocketsHttpHandler
        {
            ConnectCallback = async (context, ct) =>
            {
                var target = new IPEndPoint(IPAddress.Parse(context.DnsEndPoint.Host), context.DnsEndPoint.Port);
                var socket = await Socks5Client.ConnectAsync(socks5, target, ct);
                return new NetworkStream(socket, ownsSocket: true);
            },
        };
        return new HttpClient(handler) { BaseAddress = new Uri($"http://{ReviewsVip}:80"), Timeout = TimeSpan.FromSeconds(30) };
    }

    /// <summary>GET / (as tester or not); the body is the version that answered.</summary>
    public async Task<string> GetAsync(HttpClient client, bool tester)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/");
        if (tester) request.Headers.Add("x-user", "tester");
        using var response = await client.SendAsync(request);
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"GET / answered {(int)response.StatusCode}: {body}");
        return body;
    }

    /// <summary>
    /// Polls (generous deadline: the box may be loaded) until 10 requests in a row are answered by
    /// <paramref name="expected"/>; fails with <paramref name="message"/> otherwise.
    /// </summary>
    public async Task EventuallyAsync(HttpClient client, bool tester, string expected, string message)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        int inARow = 0;
        string last = "";
        while (inARow < 10)
        {
            last = await GetAsync(client, tester);
            inARow = last == expected ? inARow + 1 : 0;
            if (inARow == 0)
            {
                Assert.True(DateTime.UtcNow < deadline, $"{message}: still answered by {last}");
                await Task.Delay(50);
            }
        }
    }

    /// <summary>
    /// Waits until the waypoint's <c>istio_requests_total</c> for service reviews from sleep reaches
    /// <paramref name="expected"/> (it is counted as the response completes, maybe just after the client has it) and
    /// fails if it is not, or goes beyond.
    /// </summary>
    public async Task WaitForWaypointRequestsAsync(double expected)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        double count;
        while (true)
        {
            var text = await http.GetStringAsync($"http://{WaypointMetrics}/metrics");
            count = PrometheusText.Sum(PrometheusText.Parse(text), "istio_requests_total",
                ("reporter", "waypoint"), ("destination_service_name", "reviews"), ("source_principal", "spiffe://cluster.local/ns/demo/sa/sleep"));
            if (count >= expected || DateTime.UtcNow > deadline) break;
            await Task.Delay(50);
        }
        Assert.Equal(expected, count);
    }

    public async ValueTask DisposeAsync()
    {
        for (int i = _owned.Count - 1; i >= 0; i--) await _owned[i].DisposeAsync(); // waypoint, daemons, apps
        await Server.DisposeAsync();
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }
}

using System.Net;
using System.Net.Sockets;
using System.Text;
using Ambient.TestBed;

namespace Ambient.Tests.Waypoint;

/// <summary>
/// The waypoint on the network-namespace test bed, shared by the L7 tests: node1 runs the client pods sleep and
/// intruder, node2 runs reviews-v1 and reviews-v2 (each a <see cref="MeshHttpApp"/> listening inside its pod) and the
/// waypoint pod (the real <c>ambient-waypoint</c> process). Every pod but the waypoint joins the mesh through the CNI
/// plugin, so a client connection from a pod is intercepted by its node's daemon and goes
/// client → daemon → waypoint → daemon → application over HBONE, as in a cluster.
/// Each test states its own routes and policies with <see cref="ApplyAsync"/>.
/// </summary>
public sealed class WaypointBed : IAsyncLifetime
{
    private const string BaseServices = """
        services:
          - {name: waypoint, namespace: default, vips: [10.96.8.2], ports: {15008: 15008}, selector: {app: waypoint}}
          - {name: reviews, namespace: default, vips: [10.96.8.10], ports: {80: 8080, 90: 9090}, selector: {role: reviews}, waypoint: default/waypoint}
          - {name: reviews-v1, namespace: default, vips: [10.96.8.11], ports: {80: 8080, 90: 9090}, selector: {app: reviews-v1}}
          - {name: reviews-v2, namespace: default, vips: [10.96.8.12], ports: {80: 8080, 90: 9090}, selector: {app: reviews-v2}}

        """;

    private Cluster _cluster = null!;
    private AmbientMesh _mesh = null!;
    private string _appliedYaml = "";
    private IPEndPoint _collectorEndpoint = null!;

    public Pod Sleep { get; private set; } = null!;
    public Pod Intruder { get; private set; } = null!;
    public Pod ReviewsV1 { get; private set; } = null!;
    public Pod ReviewsV2 { get; private set; } = null!;
    public Pod WaypointPod { get; private set; } = null!;
    public NetnsProcess Waypoint { get; private set; } = null!;
    public MeshHttpApp AppV1 { get; private set; } = null!;
    public MeshHttpApp AppV2 { get; private set; } = null!;
    public OtlpCollector Collector { get; private set; } = null!;
    public IPAddress ReviewsVip { get; } = IPAddress.Parse("10.96.8.10");
    public IPEndPoint MetricsEndpoint => new(WaypointPod.IP, 15020);
    public IPEndPoint ReadinessEndpoint => new(WaypointPod.IP, 15021);
    public Node Node2 => WaypointPod.Node;

    public async Task InitializeAsync()
    {
        Assert.True(Cluster.IsSupported(out var reason), reason);
        _cluster = Cluster.Create(new ClusterOptions { Prefix = "ambwb" });
        var node1 = _cluster.AddNode("node1");
        var node2 = _cluster.AddNode("node2");
        Sleep = node1.AddPod("default", "sleep", "sleep");
        Intruder = node1.AddPod("default", "intruder", "intruder");
        var v1 = ReviewsV1 = node2.AddPod("default", "reviews-v1", "reviews");
        var v2 = ReviewsV2 = node2.AddPod("default", "reviews-v2", "reviews");
        WaypointPod = node2.AddPod("default", "waypoint", "waypoint");
        AppV1 = await MeshHttpApp.StartAsync("v1", port => v1.CreateSocket(new IPEndPoint(IPAddress.Any, port), listen: true));
        AppV2 = await MeshHttpApp.StartAsync("v2", port => v2.CreateSocket(new IPEndPoint(IPAddress.Any, port), listen: true));
        var collector = new IPEndPoint(node2.IP, 4317);
        Collector = await OtlpCollector.StartAsync(node2.CreateSocket(collector, listen: true));
        _mesh = await AmbientMesh.StartAsync(_cluster, AmbientBinaries.NextTo(AppContext.BaseDirectory), [], extraYaml: BaseServices);
        // The waypoint pod is not enrolled: it speaks HBONE itself, as Istio's waypoints run outside the ambient capture.
        foreach (var pod in new[] { Sleep, Intruder, v1, v2 })
            Assert.Equal(0, _mesh.Add(pod).ExitCode);
        _collectorEndpoint = collector;
        await StartWaypointAsync();
    }

    /// <summary>Starts the waypoint process (again, after a test stopped it) and waits until it serves.</summary>
    public async Task StartWaypointAsync()
    {
        Waypoint?.Dispose();
        Waypoint = WaypointPod.Start("dotnet", [Path.Combine(AppContext.BaseDirectory, "ambient-waypoint.dll"),
            "--config", _mesh.ConfigPath, "--workload", "default/waypoint", "--state-dir", _mesh.StateDirectory,
            "--metrics", $"{MetricsEndpoint}", "--readiness", $"{ReadinessEndpoint}", "--otlp-endpoint", $"http://{_collectorEndpoint}",
            "--drain-timeout", "10", "--log-format", "text"],
            // The SDK's batch exporter waits 5 s by default; tests should not.
            psi => psi.Environment["OTEL_BSP_SCHEDULE_DELAY"] = "200");
        Assert.True(await Waypoint.WaitForOutputAsync("ready: waypoint", TimeSpan.FromSeconds(30)), Waypoint.Output);
    }

    public async Task DisposeAsync()
    {
        Waypoint?.Dispose();
        if (_mesh is not null) await _mesh.DisposeAsync();
        if (AppV1 is not null) await AppV1.DisposeAsync();
        if (AppV2 is not null) await AppV2.DisposeAsync();
        if (Collector is not null) await Collector.DisposeAsync();
        _cluster?.Dispose();
    }

    public static string Identity(Pod pod) => $"spiffe://cluster.local/ns/{pod.Namespace}/sa/{pod.ServiceAccount}";

    /// <summary>
    /// Makes <paramref name="yaml"/> (routes, policies, destination rules) the mesh config besides the workloads and
    /// services, waits until both daemons and the waypoint have loaded it, and resets the applications' counters.
    /// </summary>
    public async Task ApplyAsync(string yaml)
    {
        AppV1.Reset();
        AppV2.Reset();
        if (yaml == _appliedYaml) return; // identical content is not reloaded
        NetnsProcess[] watchers = [_mesh.Daemon(Sleep.Node), _mesh.Daemon(Node2), Waypoint];
        var before = watchers.Select(p => Count(p.Output, "Loaded config")).ToArray();
        // Rename-replace, so no watcher ever reads half a file.
        var temporary = _mesh.ConfigPath + ".next";
        File.WriteAllText(temporary, AmbientMesh.Config(_cluster, [], [], BaseServices + yaml));
        File.Move(temporary, _mesh.ConfigPath, overwrite: true);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        for (int i = 0; i < watchers.Length; i++)
        {
            while (Count(watchers[i].Output, "Loaded config") <= before[i])
            {
                if (DateTime.UtcNow > deadline)
                    throw new TimeoutException($"{watchers[i]} did not load the new config:\n{watchers[i].Output[^Math.Min(4000, watchers[i].Output.Length)..]}");
                await Task.Delay(20);
            }
        }
        await Task.Delay(100); // the log line comes just before the snapshot is published
        _appliedYaml = yaml;
    }

    private static int Count(string text, string what)
    {
        int n = 0;
        for (int i = text.IndexOf(what, StringComparison.Ordinal); i >= 0; i = text.IndexOf(what, i + what.Length, StringComparison.Ordinal)) n++;
        return n;
    }

    /// <summary>A TCP connection made from inside <paramref name="from"/>: an enrolled pod's redirection sends it to its daemon.</summary>
    public static async Task<Socket> ConnectAsync(NetworkNamespace from, IPEndPoint target, CancellationToken cancellationToken)
    {
        var socket = from.CreateSocket();
        try
        {
            await socket.ConnectAsync(target, cancellationToken);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>An HTTP handler whose connections start in <paramref name="from"/>, to whatever address a request names.</summary>
    public static SocketsHttpHandler Handler(NetworkNamespace from, int maxConnections = 16) => new()
    {
        MaxConnectionsPerServer = maxConnections,
        ConnectCallback = async (context, ct) =>
        {
            var target = new IPEndPoint(IPAddress.Parse(context.DnsEndPoint.Host), context.DnsEndPoint.Port);
            return new NetworkStream(await ConnectAsync(from, target, ct), ownsSocket: true);
        },
    };

    /// <summary>An HTTP client in <paramref name="from"/> for service reviews (port 80 HTTP/1.1, or 90 with prior-knowledge HTTP/2).</summary>
    public HttpClient Client(Pod from, bool http2 = false, int maxConnections = 16)
    {
        var client = new HttpClient(Handler(from, maxConnections))
        {
            BaseAddress = new Uri($"http://{ReviewsVip}:{(http2 ? 90 : 80)}"),
            Timeout = TimeSpan.FromSeconds(30),
        };
        if (http2)
        {
            client.DefaultRequestVersion = HttpVersion.Version20;
            client.DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact;
        }
        return client;
    }

    /// <summary>The waypoint's Prometheus page, fetched from its node (the waypoint pod is outside the capture).</summary>
    public async Task<string> ScrapeMetricsAsync()
    {
        using var http = new HttpClient(Handler(Node2));
        return await http.GetStringAsync($"http://{MetricsEndpoint}/metrics");
    }

    /// <summary>The waypoint's readiness probe as the kubelet sees it from the node: its status code, or 0 when nothing answers.</summary>
    public async Task<int> ReadinessAsync()
    {
        using var http = new HttpClient(Handler(Node2)) { Timeout = TimeSpan.FromSeconds(2) };
        try { return (int)(await http.GetAsync($"http://{ReadinessEndpoint}/healthz/ready")).StatusCode; }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException) { return 0; }
    }

    /// <summary>Sends raw bytes from <paramref name="from"/> to reviews:<paramref name="port"/> and returns what comes back until the peer closes or 5 s pass.</summary>
    public async Task<byte[]> ExchangeRawAsync(Pod from, int port, byte[] request)
    {
        using var socket = await ConnectAsync(from, new IPEndPoint(ReviewsVip, port), CancellationToken.None);
        await socket.SendAsync(request, SocketFlags.None);
        var received = new MemoryStream();
        var buffer = new byte[16 * 1024];
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        try
        {
            int n;
            while ((n = await socket.ReceiveAsync(buffer, SocketFlags.None, timeout.Token)) > 0) received.Write(buffer, 0, n);
        }
        catch (OperationCanceledException) { }
        catch (SocketException) { } // a reset after the answer still leaves the answer
        return received.ToArray();
    }

    public static string Ascii(byte[] bytes) => Encoding.ASCII.GetString(bytes);
}

/// <summary>The L7 tests on the network-namespace bed share one cluster and run alone (whole processes, timings).</summary>
[CollectionDefinition("waypoint-bed", DisableParallelization = true)]
public sealed class WaypointBedCollection : ICollectionFixture<WaypointBed>;

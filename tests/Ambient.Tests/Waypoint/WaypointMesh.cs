using System.Net;
using System.Net.Sockets;
using Ambient.Tests.Support;
using Ambient.Waypoint;

namespace Ambient.Tests.Waypoint;

/// <summary>
/// A mesh with a waypoint, all real processes' code in-process and real sockets: node "a" (daemon) runs the clients
/// sleep and intruder, node "b" (daemon) runs reviews-v1 and reviews-v2 (each a <see cref="MeshHttpApp"/>), and the
/// waypoint (its own process code) serves service reviews, which names it. Clients reach services through their
/// daemon's SOCKS5 port, so every request goes client → daemon → waypoint → daemon → application over HBONE.
/// </summary>
public sealed class WaypointMesh : IAsyncDisposable
{
    public TestWorkload Sleep { get; } = new("sleep", "a", "sleep");
    public TestWorkload Intruder { get; } = new("intruder", "a", "intruder");
    public TestWorkload V1 { get; } = new("reviews-v1", "b", "reviews");
    public TestWorkload V2 { get; } = new("reviews-v2", "b", "reviews");
    public TestWorkload Waypoint { get; } = new("waypoint", "waypoint", "waypoint");
    public IPAddress ReviewsVip { get; } = TestAddresses.Next();

    public LocalMesh Mesh { get; } = new();
    public MeshHttpApp AppV1 { get; private set; } = null!;
    public MeshHttpApp AppV2 { get; private set; } = null!;
    public WaypointHost Host { get; private set; } = null!;
    public IPEndPoint MetricsEndpoint { get; } = new(TestAddresses.Next(), 15020);

    public static async Task<WaypointMesh> StartAsync(string extraYaml)
    {
        var m = new WaypointMesh();
        m.Mesh.WriteConfig(m.Config(extraYaml));
        m.AppV1 = await MeshHttpApp.StartAsync(m.V1.Address, "v1");
        m.AppV2 = await MeshHttpApp.StartAsync(m.V2.Address, "v2");
        await m.Mesh.StartAsync("a", "b");
        m.Host = new WaypointHost(new WaypointOptions
        {
            ConfigPath = m.Mesh.ConfigPath,
            Workload = "default/waypoint",
            StateDirectory = m.Mesh.StateDirectory,
            MetricsEndpoint = m.MetricsEndpoint,
            ReadinessEndpoint = null,
        }, m.Mesh.Logs);
        await m.Host.StartAsync();
        return m;
    }

    public string Config(string extraYaml)
    {
        string W(TestWorkload w, string labels) =>
            $"  - {{name: {w.Name}, namespace: default, serviceAccount: {w.ServiceAccount}, addresses: [{w.Address}], node: {w.Node}, labels: {{{labels}}}}}\n";
        return "trustDomain: cluster.local\nworkloads:\n"
            + W(Sleep, "app: sleep") + W(Intruder, "app: intruder")
            + W(V1, "app: reviews, version: v1") + W(V2, "app: reviews, version: v2")
            + W(Waypoint, "gateway: waypoint")
            + "services:\n"
            + $"  - {{name: waypoint, namespace: default, vips: [{TestAddresses.Next()}], ports: {{15008: 15008}}, selector: {{gateway: waypoint}}}}\n"
            + $"  - {{name: reviews, namespace: default, vips: [{ReviewsVip}], ports: {{80: 8080, 90: 9090}}, selector: {{app: reviews}}, waypoint: default/waypoint}}\n"
            + $"  - {{name: reviews-v1, namespace: default, vips: [{TestAddresses.Next()}], ports: {{80: 8080, 90: 9090}}, selector: {{version: v1}}}}\n"
            + $"  - {{name: reviews-v2, namespace: default, vips: [{TestAddresses.Next()}], ports: {{80: 8080, 90: 9090}}, selector: {{version: v2}}}}\n"
            + extraYaml;
    }

    /// <summary>An HTTP client whose connections go through <paramref name="from"/>'s SOCKS5 port (as if intercepted).</summary>
    public HttpClient Client(TestWorkload from, bool http2 = false, int maxConnections = 16)
    {
        var handler = new SocketsHttpHandler
        {
            MaxConnectionsPerServer = maxConnections,
            ConnectCallback = async (context, ct) =>
            {
                var target = new IPEndPoint(IPAddress.Parse(context.DnsEndPoint.Host), context.DnsEndPoint.Port);
                var socket = await Socks5Client.ConnectAsync(from.Socks5, target, ct);
                return new NetworkStream(socket, ownsSocket: true);
            },
        };
        var client = new HttpClient(handler) { BaseAddress = new Uri($"http://{ReviewsVip}:{(http2 ? 90 : 80)}"), Timeout = TimeSpan.FromSeconds(30) };
        if (http2)
        {
            client.DefaultRequestVersion = HttpVersion.Version20;
            client.DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact;
        }
        return client;
    }

    public async ValueTask DisposeAsync()
    {
        await Host.DisposeAsync();
        await AppV1.DisposeAsync();
        await AppV2.DisposeAsync();
        await Mesh.DisposeAsync();
    }
}

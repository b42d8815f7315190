using System.Diagnostics;
using System.Net;
using Ambient.Tests.Support;

namespace Ambient.Tests.Waypoint;

/// <summary>
/// DestinationRule <c>connectionPool.tcp.maxConnections</c> (with <c>http1MaxPendingRequests</c>) through a real
/// waypoint: connections are counted where the application accepts them.
/// </summary>
public sealed class WaypointConnectionLimitTests : IAsyncLifetime
{
    private const string ReviewsV1 = "reviews-v1.default.svc.cluster.local";

    private WaypointMesh _mesh = null!;

    // x-pod picks a one-pod backend (reviews-v1: 2 connections, 20 pending; reviews-v2: 1 connection, 2 pending);
    // without it the request goes to reviews, both pods, 1 connection between them.
    private static string Yaml(int v1Connections) => $$"""
        httpRoutes:
          - metadata: {name: reviews, namespace: default}
            spec:
              parentRefs: [{group: "", kind: Service, name: reviews, port: 80}]
              rules:
                - matches: [{headers: [{name: x-pod, value: v1}]}]
                  backendRefs: [{name: reviews-v1, port: 80}]
                - matches: [{headers: [{name: x-pod, value: v2}]}]
                  backendRefs: [{name: reviews-v2, port: 80}]
                - backendRefs: [{name: reviews, port: 80}]
          - metadata: {name: reviews-h2, namespace: default}
            spec:
              parentRefs: [{group: "", kind: Service, name: reviews, port: 90}]
              rules:
                - backendRefs: [{name: reviews-v2, port: 90}]
        destinationRules:
          - metadata: {name: reviews-v1, namespace: default}
            spec:
              host: reviews-v1
              trafficPolicy:
                connectionPool:
                  tcp: {maxConnections: {{v1Connections}}}
                  http: {http1MaxPendingRequests: 20}
          - metadata: {name: reviews-v2, namespace: default}
            spec:
              host: reviews-v2
              trafficPolicy:
                connectionPool:
                  tcp: {maxConnections: 1}
                  http: {http1MaxPendingRequests: 2}
          - metadata: {name: reviews, namespace: default}
            spec:
              host: reviews
              trafficPolicy:
                connectionPool:
                  tcp: {maxConnections: 1}

        """;

    public async Task InitializeAsync() => _mesh = await WaypointMesh.StartAsync(Yaml(v1Connections: 2));

    public async Task DisposeAsync() => await _mesh.DisposeAsync();

    private static HttpRequestMessage Get(string path, string? pod)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, path);
        if (pod is not null) request.Headers.Add("x-pod", pod);
        return request;
    }

    /// <summary>Opens the client's own connections first, so that a burst reaches the waypoint at once.</summary>
    private static async Task WarmAsync(HttpClient client, int connections) =>
        await Task.WhenAll(Enumerable.Range(0, connections).Select(async _ =>
        {
            using var response = await client.SendAsync(Get("/", "v1"));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }));

    private async Task<(HttpStatusCode Status, long Milliseconds, bool Overloaded)[]> BurstAsync(HttpClient client, int requests, string path, string? pod) =>
        await Task.WhenAll(Enumerable.Range(0, requests).Select(async _ =>
        {
            var clock = Stopwatch.StartNew();
            using var response = await client.SendAsync(Get(path, pod));
            await response.Content.ReadAsByteArrayAsync();
            return (response.StatusCode, clock.ElapsedMilliseconds, response.Headers.Contains("x-envoy-overloaded"));
        }));

    [Fact]
    public async Task With_maxConnections_2_ten_concurrent_slow_requests_all_succeed_over_at_most_2_connections()
    {
        using var client = _mesh.Client(_mesh.Sleep, maxConnections: 32);
        await WarmAsync(client, 10);
        _mesh.AppV1.Http1Connections.ResetMax();
        var clock = Stopwatch.StartNew();
        var results = await BurstAsync(client, 10, "/hold", "v1");
        clock.Stop();
        Assert.All(results, r => Assert.Equal(HttpStatusCode.OK, r.Status));
        Assert.InRange(_mesh.AppV1.Http1Connections.Max, 1, 2);
        // Two at a time, 500 ms each: five rounds. Without the limit all ten would be done in about one.
        Assert.True(clock.ElapsedMilliseconds >= 2400, $"10 × 500 ms over 2 connections took only {clock.ElapsedMilliseconds} ms");
        Assert.InRange(_mesh.Host.Runtime!.CircuitBreakers.For(ReviewsV1).Connections.OpenConnections, 0, 2);
    }

    [Fact]
    public async Task Beyond_the_pending_limit_requests_are_refused_at_once_with_503_UO_and_counted_so()
    {
        using var client = _mesh.Client(_mesh.Sleep, maxConnections: 32);
        await WarmAsync(client, 12);
        var results = await BurstAsync(client, 12, "/slow", "v2"); // 2 s each
        var ok = results.Where(r => r.Status == HttpStatusCode.OK).ToArray();
        var refused = results.Where(r => r.Status == HttpStatusCode.ServiceUnavailable).ToArray();
        Assert.Equal(3, ok.Length); // one on the connection, two pending behind it
        Assert.Equal(9, refused.Length);
        Assert.All(refused, r => Assert.True(r.Overloaded, "a refusal without x-envoy-overloaded"));
        Assert.All(refused, r => Assert.True(r.Milliseconds < 1500, $"a refusal took {r.Milliseconds} ms: it waited for the upstream"));
        var done = ok.Select(r => r.Milliseconds).Order().ToArray(); // one after another on the one connection
        Assert.True(done[0] >= 1900 && done[1] - done[0] >= 1900 && done[2] - done[1] >= 1900, $"finished at {string.Join(", ", done)} ms");
        Assert.InRange(_mesh.AppV2.Http1Connections.Max, 1, 1);

        using var http = new HttpClient();
        var samples = PrometheusText.Parse(await http.GetStringAsync($"http://{_mesh.MetricsEndpoint}/metrics"));
        Assert.Equal(9, PrometheusText.Sum(samples, "istio_requests_total", [("response_code", "503"), ("response_flags", "UO")]));

        // Load gone: requests pass again.
        for (int i = 0; i < 3; i++)
        {
            using var response = await client.SendAsync(Get("/", "v2"));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }
    }

    [Fact]
    public async Task With_one_connection_for_two_pods_requests_alternate_pods_without_stalling()
    {
        using var client = _mesh.Client(_mesh.Sleep);
        var limiter = _mesh.Host.Runtime!.CircuitBreakers.For("reviews.default.svc.cluster.local").Connections;
        for (int i = 0; i < 30; i++)
        {
            // The idle connection to one pod is closed to make room for the other: no wait for an idle timeout.
            var clock = Stopwatch.StartNew();
            using var response = await client.SendAsync(Get("/", null));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.True(clock.ElapsedMilliseconds < 5000, $"request {i} took {clock.ElapsedMilliseconds} ms");
            Assert.InRange(limiter.OpenConnections, 0, 1);
        }
        Assert.True(_mesh.AppV1.Requests > 0 && _mesh.AppV2.Requests > 0, $"v1 {_mesh.AppV1.Requests}, v2 {_mesh.AppV2.Requests}: both pods should have served");
    }

    [Fact]
    public async Task Http2_requests_share_the_one_allowed_connection_instead_of_queueing_as_pending()
    {
        using var client = _mesh.Client(_mesh.Sleep, http2: true);
        using (var first = await client.GetAsync("/")) Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        var results = await Task.WhenAll(Enumerable.Range(0, 20).Select(async _ =>
        {
            using var response = await client.GetAsync("/hold");
            return response.StatusCode;
        }));
        Assert.All(results, s => Assert.Equal(HttpStatusCode.OK, s)); // more than 1 + 2 pending, none refused
        Assert.Equal(1, _mesh.AppV2.Http2Connections.Max);
    }

    [Fact]
    public async Task A_changed_maxConnections_applies_to_the_next_requests()
    {
        using var client = _mesh.Client(_mesh.Sleep, maxConnections: 32);
        await WarmAsync(client, 8);
        _mesh.AppV1.Http1Connections.ResetMax();
        Assert.All(await BurstAsync(client, 8, "/hold", "v1"), r => Assert.Equal(HttpStatusCode.OK, r.Status));
        Assert.InRange(_mesh.AppV1.Http1Connections.Max, 1, 2);

        _mesh.Mesh.WriteConfig(_mesh.Config(Yaml(v1Connections: 4)));
        var limiter = _mesh.Host.Runtime!.CircuitBreakers.For(ReviewsV1).Connections;
        for (int i = 0; i < 200 && limiter.MaxConnections != 4; i++) await Task.Delay(50);
        Assert.Equal(4, limiter.MaxConnections);

        _mesh.AppV1.Http1Connections.ResetMax();
        Assert.All(await BurstAsync(client, 8, "/hold", "v1"), r => Assert.Equal(HttpStatusCode.OK, r.Status));
        Assert.InRange(_mesh.AppV1.Http1Connections.Max, 3, 4);
    }
}

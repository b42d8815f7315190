using System.Diagnostics;
using System.Net;

namespace Ambient.Tests.Waypoint;

/// <summary>DestinationRule circuit breaking and outlier detection applied by a real waypoint.</summary>
[Collection("waypoint-bed")]
public sealed class WaypointResilienceTests(WaypointBed bed) : IAsyncLifetime
{

    private static readonly string Yaml = """
        destinationRules:
          - metadata: {name: reviews, namespace: default}
            spec:
              host: reviews
              trafficPolicy:
                connectionPool:
                  tcp: {maxConnections: 1}
                  http: {http1MaxPendingRequests: 2, http2MaxRequests: 100}
                outlierDetection: {consecutive5xxErrors: 2, interval: 1s, baseEjectionTime: 1s, maxEjectionPercent: 100}

        """;

    public Task InitializeAsync() => bed.ApplyAsync(Yaml);

    public Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task Beyond_the_pending_limit_the_waypoint_answers_503_at_once_and_recovers_when_load_drops()
    {
        using var client = bed.Client(bed.Sleep, maxConnections: 32);
        await client.GetAsync("/"); // warm
        var results = await Task.WhenAll(Enumerable.Range(0, 12).Select(async _ =>
        {
            var clock = Stopwatch.StartNew();
            using var response = await client.GetAsync("/hold");
            return (response.StatusCode, clock.ElapsedMilliseconds, Overloaded: response.Headers.Contains("x-envoy-overloaded"));
        }));
        var rejected = results.Where(r => r.StatusCode == HttpStatusCode.ServiceUnavailable).ToArray();
        Assert.InRange(results.Count(r => r.StatusCode == HttpStatusCode.OK), 2, 4); // about the limit got through
        Assert.NotEmpty(rejected);
        Assert.All(rejected, r => Assert.True(r.Overloaded));
        Assert.All(rejected, r => Assert.True(r.ElapsedMilliseconds < 450, $"a rejection took {r.ElapsedMilliseconds} ms: it waited for the upstream"));

        // Load gone: requests pass again.
        for (int i = 0; i < 5; i++)
        {
            using var response = await client.GetAsync("/");
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }
    }

    [Fact]
    public async Task A_backend_answering_5xx_is_ejected_and_later_readmitted()
    {
        using var client = bed.Client(bed.Sleep);
        // v2 fails /v2-fails; after 2 in a row it is ejected, so the rest go to v1.
        for (int i = 0; i < 20; i++) await client.GetAsync("/v2-fails");
        int v2Before = bed.AppV2.Requests;
        Assert.InRange(v2Before, 2, 6);
        for (int i = 0; i < 20; i++)
        {
            using var response = await client.GetAsync("/v2-fails");
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }
        Assert.Equal(v2Before, bed.AppV2.Requests);

        // After the ejection time it is tried again.
        await Task.Delay(1500);
        for (int i = 0; i < 30 && bed.AppV2.Requests == v2Before; i++) await client.GetAsync("/");
        Assert.True(bed.AppV2.Requests > v2Before, "v2 was never readmitted");
    }
}

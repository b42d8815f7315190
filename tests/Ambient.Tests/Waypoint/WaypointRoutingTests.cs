using System.Diagnostics;
using System.Net;

namespace Ambient.Tests.Waypoint;

/// <summary>Gateway API HTTPRoute through the waypoint on the test bed: weighted split, header routing, retries, timeouts, faults, rate limit, mirror.</summary>
[Collection("waypoint-bed")]
public sealed class WaypointRoutingTests(WaypointBed bed) : IAsyncLifetime
{

    private static readonly string Yaml = """
        httpRoutes:
          - metadata: {name: reviews, namespace: default}
            spec:
              parentRefs: [{group: "", kind: Service, name: reviews, port: 80}]
              rules:
                - matches: [{headers: [{name: x-user, value: tester}]}]
                  backendRefs: [{name: reviews-v2, port: 80}]
                - matches: [{path: {type: PathPrefix, value: /flaky}}]
                  retry: {attempts: 3, codes: [503], backoff: 1ms}
                  backendRefs: [{name: reviews-v1, port: 80}]
                - matches: [{path: {type: PathPrefix, value: /mirrored}}]
                  filters: [{type: RequestMirror, requestMirror: {backendRef: {name: reviews-v2, port: 80}}}]
                  backendRefs: [{name: reviews-v1, port: 80}]
                - matches: [{path: {type: PathPrefix, value: /slow}}]
                  timeouts: {request: 500ms}
                  backendRefs: [{name: reviews-v1, port: 80}]
                - backendRefs: [{name: reviews-v1, port: 80, weight: 90}, {name: reviews-v2, port: 80, weight: 10}]
          - metadata:
              name: faults
              namespace: default
              annotations:
                ambient.dev/fault: |
                  abort: {httpStatus: 418, percentage: {value: 30}}
            spec:
              parentRefs: [{group: "", kind: Service, name: reviews, port: 80}]
              rules:
                - matches: [{path: {type: Exact, value: /abort}}]
                  backendRefs: [{name: reviews-v1, port: 80}]
          - metadata:
              name: limited
              namespace: default
              annotations:
                ambient.dev/local-rate-limit: '{tokenBucket: {maxTokens: 20, tokensPerFill: 20, fillInterval: 2s}}'
            spec:
              parentRefs: [{group: "", kind: Service, name: reviews, port: 80}]
              rules:
                - matches: [{path: {type: Exact, value: /limited}}]
                  backendRefs: [{name: reviews-v1, port: 80}]
          - metadata:
              name: delays
              namespace: default
              annotations:
                ambient.dev/fault: |
                  delay: {fixedDelay: 300ms, percentage: {value: 50}}
            spec:
              parentRefs: [{group: "", kind: Service, name: reviews, port: 80}]
              rules:
                - matches: [{path: {type: Exact, value: /delayed}}]
                  backendRefs: [{name: reviews-v1, port: 80}]

        """;

    public Task InitializeAsync() => bed.ApplyAsync(Yaml);

    public Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task A_90_10_split_converges_to_its_weights_over_2000_requests()
    {
        using var client = bed.Client(bed.Sleep);
        int v2 = 0;
        await Parallel.ForAsync(0, 2000, new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (_, ct) =>
        {
            var body = await client.GetStringAsync("/", ct);
            if (body == "v2") Interlocked.Increment(ref v2);
            else Assert.Equal("v1", body);
        });
        Assert.InRange(v2 / 2000.0, 0.07, 0.13);
    }

    [Fact]
    public async Task Header_x_user_tester_goes_to_v2_only()
    {
        using var client = bed.Client(bed.Sleep);
        for (int i = 0; i < 50; i++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "/");
            request.Headers.Add("x-user", "tester");
            using var response = await client.SendAsync(request);
            Assert.Equal("v2", await response.Content.ReadAsStringAsync());
        }
    }

    [Fact]
    public async Task Retries_turn_an_upstream_failing_half_its_requests_into_success()
    {
        using var client = bed.Client(bed.Sleep);
        int ok = 0;
        for (int i = 0; i < 200; i++)
        {
            using var response = await client.GetAsync("/flaky");
            if (response.StatusCode == HttpStatusCode.OK) ok++;
        }
        Assert.True(ok >= 198, $"{ok}/200 succeeded");
        Assert.True(bed.AppV1.Requests >= 300, $"the upstream saw {bed.AppV1.Requests} requests: the failures were retried");
    }

    [Fact]
    public async Task A_2_second_upstream_with_a_500ms_request_timeout_answers_504_promptly()
    {
        using var client = bed.Client(bed.Sleep);
        await client.GetAsync("/"); // connections and tunnels up
        var clock = Stopwatch.StartNew();
        using var response = await client.GetAsync("/slow");
        clock.Stop();
        Assert.Equal(HttpStatusCode.GatewayTimeout, response.StatusCode);
        Assert.Equal("upstream request timeout", await response.Content.ReadAsStringAsync());
        // 600 ms on a quiet machine; the bound here leaves room for a loaded CI box and still excludes the 2 s answer.
        Assert.InRange(clock.ElapsedMilliseconds, 450, 1500);
    }

    [Fact]
    public async Task Injected_aborts_and_delays_follow_their_percentages()
    {
        using var client = bed.Client(bed.Sleep);
        // Sample sizes keep the bounds beyond 5 standard deviations of a fair coin: a failure means a wrong percentage.
        int aborted = 0;
        await Parallel.ForAsync(0, 1000, new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (_, ct) =>
        {
            using var response = await client.GetAsync("/abort", ct);
            if ((int)response.StatusCode == 418) Interlocked.Increment(ref aborted);
            else Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        });
        Assert.InRange(aborted / 1000.0, 0.22, 0.38);

        int delayed = 0;
        await Parallel.ForAsync(0, 600, new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (_, ct) =>
        {
            var clock = Stopwatch.StartNew();
            using var response = await client.GetAsync("/delayed", ct);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            if (clock.ElapsedMilliseconds >= 300) Interlocked.Increment(ref delayed);
        });
        Assert.InRange(delayed / 600.0, 0.40, 0.62);
    }

    [Fact]
    public async Task A_local_rate_limit_answers_429_beyond_its_bucket_and_refills()
    {
        using var client = bed.Client(bed.Sleep);
        async Task<(int Ok, int Limited, int MaxOk)> BurstAsync()
        {
            int ok = 0, limited = 0;
            var clock = Stopwatch.StartNew();
            for (int i = 0; i < 60; i++)
            {
                using var response = await client.GetAsync("/limited");
                if (response.StatusCode == HttpStatusCode.OK) ok++;
                else if ((int)response.StatusCode == 429) limited++;
                else Assert.Fail($"unexpected {(int)response.StatusCode}");
            }
            // 20 tokens, plus 20 for each 2 s refill the burst may have spanned on a slow machine.
            return (ok, limited, 20 + 20 * (int)Math.Ceiling(clock.Elapsed.TotalSeconds / 2));
        }
        var first = await BurstAsync();
        Assert.InRange(first.Ok, 20, first.MaxOk);
        Assert.True(first.Limited > 0, "nothing was rate limited");
        Assert.Equal(60 - first.Ok, first.Limited);
        Assert.Equal(first.Ok, bed.AppV1.Requests); // limited requests never reached the application
        await Task.Delay(2500);
        var second = await BurstAsync();
        Assert.InRange(second.Ok, 20, second.MaxOk);
    }

    [Fact]
    public async Task A_mirrored_request_reaches_the_shadow_backend_while_the_client_gets_the_real_answer()
    {
        using var client = bed.Client(bed.Sleep);
        for (int i = 0; i < 5; i++) Assert.Equal("v1", await client.GetStringAsync("/mirrored"));
        for (int i = 0; i < 50 && bed.AppV2.Requests < 5; i++) await Task.Delay(100);
        Assert.Equal(5, bed.AppV2.Requests);
        Assert.EndsWith("-shadow", bed.AppV2.LastHost);
    }
}

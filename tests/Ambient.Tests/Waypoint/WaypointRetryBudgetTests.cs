using System.Net;

namespace Ambient.Tests.Waypoint;

/// <summary>DestinationRule <c>http.maxRetries</c>: the retries outstanding to a service, over the routes' own retry policies.</summary>
[Collection("waypoint-bed")]
public sealed class WaypointRetryBudgetTests(WaypointBed bed)
{
    private static string Yaml(int maxRetries) => $$$"""
        httpRoutes:
          - metadata: {name: reviews, namespace: default}
            spec:
              parentRefs: [{group: "", kind: Service, name: reviews, port: 80}]
              rules:
                - matches: [{path: {type: PathPrefix, value: /flaky}}]
                  retry: {attempts: 3, codes: [503], backoff: 1ms}
                  backendRefs: [{name: reviews-v1, port: 80}]
                - backendRefs: [{name: reviews-v1, port: 80}]
        destinationRules:
          - metadata: {name: reviews-v1, namespace: default}
            spec:
              host: reviews-v1
              trafficPolicy:
                connectionPool:
                  http: {maxRetries: {{{maxRetries}}}}

        """;

    [Fact]
    public async Task With_no_retry_budget_the_upstream_answer_stands_and_a_budget_lets_retries_through()
    {
        // /flaky answers 503 to every other request. maxRetries 0: no retry may be outstanding, so half fail.
        await bed.ApplyAsync(Yaml(maxRetries: 0));
        using var client = bed.Client(bed.Sleep);
        int failed = 0;
        for (int i = 0; i < 20; i++)
        {
            using var response = await client.GetAsync("/flaky");
            if (response.StatusCode == HttpStatusCode.ServiceUnavailable) failed++;
            else Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }
        Assert.Equal(10, failed);
        Assert.Equal(20, bed.AppV1.Requests); // not one retry was sent

        // One retry at a time is all sequential requests need. The alternation now lines up so that every first
        // attempt gets the 503 and its retry the 200: 20 requests, 40 upstream attempts, no failure.
        await bed.ApplyAsync(Yaml(maxRetries: 1));
        for (int i = 0; i < 20; i++)
        {
            using var response = await client.GetAsync("/flaky");
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }
        Assert.Equal(40, bed.AppV1.Requests);
    }
}

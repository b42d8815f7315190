using System.Net;
using Ambient.Config;
using Ambient.LoadBalancing;

namespace Ambient.Tests.LoadBalancing;

/// <summary>A clock that moves only when told to (timestamps only: outlier detection uses no timers).</summary>
internal sealed class StepClock : TimeProvider
{
    private long _ticks = TimeSpan.FromDays(1).Ticks;

    public override long TimestampFrequency => TimeSpan.TicksPerSecond;

    public override long GetTimestamp() => Interlocked.Read(ref _ticks);

    public void Advance(TimeSpan by) => Interlocked.Add(ref _ticks, by.Ticks);
}

internal static class Lb
{
    private static int _next;

    public static Workload Workload(string name, string node = "node-a", string locality = "", string ns = "default")
    {
        var n = Interlocked.Increment(ref _next);
        return new Workload
        {
            Uid = $"{ns}/{name}",
            Name = name,
            Namespace = ns,
            Addresses = [new IPAddress([10, 1, (byte)(n >> 8), (byte)n])],
            Node = node,
            Locality = Locality.Parse(locality)!,
        };
    }

    public static EndpointTarget Endpoint(string name, string node = "node-a", string locality = "", int port = 8080) =>
        new(Workload(name, node, locality), port);

    public static EndpointTarget[] Endpoints(int count, string prefix = "ep", string node = "node-a", string locality = "") =>
        [.. Enumerable.Range(0, count).Select(i => Endpoint($"{prefix}-{i}", node, locality))];

    /// <summary>The client used by tests that do not care about locality: on a node no endpoint is on.</summary>
    public static Workload Client(string node = "client-node", string locality = "") => Workload("client", node, locality, "client-ns");

    /// <summary>How often each endpoint (by index) was picked.</summary>
    public static int[] Histogram(LoadBalancer balancer, EndpointTarget[] endpoints, Workload client, int picks, int seed = 42)
    {
        var rng = new Random(seed);
        var counts = new int[endpoints.Length];
        for (var i = 0; i < picks; i++) counts[balancer.Pick(endpoints, client, rng).Index]++;
        return counts;
    }

    /// <summary>Ejects the endpoint by reporting enough consecutive failures.</summary>
    public static void Eject(EndpointHealthRegistry health, EndpointTarget endpoint)
    {
        for (var i = 0; i < health.Options.ConsecutiveFailures; i++) health.ReportFailure(endpoint);
    }
}

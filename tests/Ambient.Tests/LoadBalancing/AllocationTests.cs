using Ambient.Config;
using Ambient.LoadBalancing;

namespace Ambient.Tests.LoadBalancing;

public sealed class AllocationTests
{
    private const int Picks = 10_000;

    private static long AllocatedBy(Action action)
    {
        action(); // warm up: JIT, first health entries, ArrayPool buckets, Random.Shared's per-thread state
        action();
        var before = GC.GetAllocatedBytesForCurrentThread();
        action();
        return GC.GetAllocatedBytesForCurrentThread() - before;
    }

    [Theory]
    [InlineData(1, false)]
    [InlineData(8, false)]
    [InlineData(8, true)]
    [InlineData(1000, true)] // the ArrayPool path
    public void Pick_DoesNotAllocate(int count, bool withEjections)
    {
        var clock = new StepClock();
        var balancer = new LoadBalancer(new EndpointHealthRegistry(time: clock));
        var client = Lb.Workload("client", "node-a", "r/z");
        var endpoints = Enumerable.Range(0, count)
            .Select(i => Lb.Endpoint($"ep-{i}", i % 4 == 0 ? "node-a" : "node-b", i % 2 == 0 ? "r/z" : "r/other"))
            .ToArray();
        if (withEjections)
        {
            Lb.Eject(balancer.Health, endpoints[0]);
            clock.Advance(TimeSpan.FromSeconds(1)); // half-open: the probe path runs too
            if (count > 1) Lb.Eject(balancer.Health, endpoints[1]);
        }
        var leases = endpoints.Select(e => balancer.Lease(e)).ToArray(); // entries exist, loads are non-zero
        var rng = new Random(1);
        var sink = 0;

        var bytes = AllocatedBy(() =>
        {
            for (var i = 0; i < Picks; i++) sink += balancer.Pick(endpoints, client, rng).Index;
        });

        Assert.Equal(0, bytes);
        Assert.True(sink >= 0);
        foreach (var lease in leases) lease.Dispose();
    }

    [Fact]
    public void PickWithRandomShared_DoesNotAllocate()
    {
        var balancer = new LoadBalancer();
        var endpoints = Lb.Endpoints(16);
        var client = Lb.Client();

        var bytes = AllocatedBy(() =>
        {
            for (var i = 0; i < Picks; i++) balancer.Pick(endpoints, client, Random.Shared);
        });

        Assert.Equal(0, bytes);
    }

    [Fact]
    public void LeaseAndReport_DoNotAllocateOnceTheEntryExists()
    {
        var balancer = new LoadBalancer(new EndpointHealthRegistry(time: new StepClock()));
        EndpointTarget endpoint = Lb.Endpoint("hot");

        var bytes = AllocatedBy(() =>
        {
            for (var i = 0; i < Picks; i++)
            {
                using var lease = balancer.Lease(endpoint);
                if (i % 2 == 0) balancer.ReportFailure(endpoint);
                else lease.ReportSuccess();
            }
        });

        Assert.Equal(0, bytes);
    }
}

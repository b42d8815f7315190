using Ambient.Config;
using Ambient.LoadBalancing;

namespace Ambient.Tests.LoadBalancing;

public sealed class ConcurrencyTests
{
    [Fact]
    public async Task ManyThreadsPickingLeasingAndReporting_LeaveNoConnectionsAndConsistentCounts()
    {
        var clock = new StepClock();
        var balancer = new LoadBalancer(new EndpointHealthRegistry(time: clock));
        var client = Lb.Workload("client", "node-a", "r/z1");
        var endpoints = Enumerable.Range(0, 12)
            .Select(i => Lb.Endpoint($"ep-{i}", $"node-{(char)('a' + i % 3)}", $"r/z{i % 2}"))
            .ToArray();
        const int Threads = 8, Iterations = 20_000;
        using var start = new Barrier(Threads + 1);
        var stop = 0;
        var maxOpen = 0;

        var workers = Enumerable.Range(0, Threads).Select(t => Task.Factory.StartNew(() =>
        {
            var rng = new Random(t);
            var held = new Queue<ConnectionLease>();
            start.SignalAndWait();
            for (var i = 0; i < Iterations; i++)
            {
                var pick = balancer.Pick(endpoints, client, rng);
                var lease = balancer.Lease(pick.Endpoint);
                // Endpoints 0–2 (node-a, the preferred tier) fail most of the time: ejection, half-open and
                // panic transitions race with the picks.
                if (pick.Index < 3 && rng.Next(4) != 0) lease.ReportFailure();
                else lease.ReportSuccess();
                held.Enqueue(lease);
                if (held.Count > 16) held.Dequeue().Dispose();
                var open = balancer.Health.OpenConnections(pick.Endpoint);
                if (open > Volatile.Read(ref maxOpen)) Interlocked.Exchange(ref maxOpen, open);
            }
            while (held.Count > 0) held.Dequeue().Dispose();
        }, TaskCreationOptions.LongRunning)).ToArray();

        var ticker = Task.Factory.StartNew(() =>
        {
            start.SignalAndWait();
            while (Volatile.Read(ref stop) == 0)
            {
                clock.Advance(TimeSpan.FromMilliseconds(50));
                Thread.Yield();
            }
        }, TaskCreationOptions.LongRunning);

        await Task.WhenAll(workers);
        Volatile.Write(ref stop, 1);
        await ticker;

        Assert.All(endpoints, e => Assert.Equal(0, balancer.Health.OpenConnections(e)));
        Assert.InRange(maxOpen, 1, Threads * 17);

        // The ejected-entry counter agrees with the entries' states.
        var notAdmitted = endpoints.Count(e => balancer.Health.Find(e) is { State: not EndpointState.Admitted });
        Assert.Equal(notAdmitted, balancer.Health.NotAdmittedCount);
        foreach (var endpoint in endpoints) balancer.ReportSuccess(endpoint);
        Assert.Equal(0, balancer.Health.NotAdmittedCount);
    }

    [Fact]
    public async Task RetainRacingWithLeases_NeverLosesACount()
    {
        var balancer = new LoadBalancer();
        var endpoints = Lb.Endpoints(4);
        var client = Lb.Client();
        var entries = new System.Collections.Concurrent.ConcurrentBag<EndpointHealth>();
        var stop = 0;

        var retainer = Task.Run(() =>
        {
            while (Volatile.Read(ref stop) == 0) balancer.Health.Retain(_ => false);
        });
        var workers = Enumerable.Range(0, 4).Select(t => Task.Run(() =>
        {
            var rng = new Random(t);
            for (var i = 0; i < 20_000; i++)
            {
                using var lease = balancer.Lease(balancer.Pick(endpoints, client, rng).Endpoint);
                entries.Add(lease.Health!);
            }
        })).ToArray();

        await Task.WhenAll(workers);
        Volatile.Write(ref stop, 1);
        await retainer;

        Assert.All(entries.Distinct(), e => Assert.Equal(0, e.OpenConnections));
    }
}

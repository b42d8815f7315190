using Ambient.LoadBalancing;

namespace Ambient.Tests.LoadBalancing;

public sealed class PowerOfTwoChoicesTests
{
    private const int Picks = 10_000;

    [Theory]
    [InlineData(2)]
    [InlineData(5)]
    [InlineData(300)] // above the stackalloc limit: the ArrayPool path
    public void EqualLoad_IsUniformWithinFivePercent(int count)
    {
        var endpoints = Lb.Endpoints(count);
        var picks = count <= 5 ? Picks : count * 400;
        var counts = Lb.Histogram(new LoadBalancer(), endpoints, Lb.Client(), picks);

        var expected = (double)picks / count;
        if (count <= 5)
        {
            foreach (var c in counts) Assert.InRange(c, expected * 0.95, expected * 1.05);
        }
        else
        {
            // 300 buckets of ~400: each within a wide band, and the whole within ±5% bucket-average deviation.
            foreach (var c in counts) Assert.InRange(c, expected * 0.75, expected * 1.25);
            Assert.True(counts.Average(c => Math.Abs(c - expected)) < expected * 0.05);
        }
    }

    [Fact]
    public void HeldConnections_LessLoadedEndpointIsChosenFarMoreOften()
    {
        var balancer = new LoadBalancer();
        var endpoints = Lb.Endpoints(4);
        var leases = new List<ConnectionLease>();
        for (var i = 1; i < endpoints.Length; i++)
            for (var j = 0; j < 5; j++) leases.Add(balancer.Lease(endpoints[i]));

        var counts = Lb.Histogram(balancer, endpoints, Lb.Client(), Picks);

        // The idle endpoint wins whenever it is one of the two drawn: 1 − (3/4 · 2/3) = 1/2; the others 1/6 each.
        Assert.InRange(counts[0], Picks * 0.47, Picks * 0.53);
        for (var i = 1; i < endpoints.Length; i++)
        {
            Assert.True(counts[0] > 2.5 * counts[i], $"idle {counts[0]} vs loaded {counts[i]}");
            Assert.InRange(counts[i], Picks / 6.0 * 0.9, Picks / 6.0 * 1.1);
        }
        foreach (var lease in leases) lease.Dispose();
        Assert.All(endpoints, e => Assert.Equal(0, balancer.Health.OpenConnections(e)));
    }

    [Fact]
    public void DistinctLoads_FrequencyFollowsLoadAndTheMostLoadedIsNeverChosen()
    {
        var balancer = new LoadBalancer();
        var endpoints = Lb.Endpoints(4);
        for (var i = 0; i < endpoints.Length; i++)
            for (var j = 0; j < i; j++) _ = balancer.Lease(endpoints[i]); // held: never disposed in this test

        var counts = Lb.Histogram(balancer, endpoints, Lb.Client(), Picks);

        // Rank r of n wins when drawn with a more loaded one: 2(n−1−r) / n(n−1) → 6/12, 4/12, 2/12, 0.
        Assert.InRange(counts[0], Picks * 0.47, Picks * 0.53);
        Assert.InRange(counts[1], Picks * 0.30, Picks * 0.367);
        Assert.InRange(counts[2], Picks * 0.14, Picks * 0.193);
        Assert.Equal(0, counts[3]);
    }

    [Fact]
    public void TwoEndpoints_TheLessLoadedAlwaysWins()
    {
        var balancer = new LoadBalancer();
        var endpoints = Lb.Endpoints(2);
        using var lease = balancer.Lease(endpoints[0]);

        var counts = Lb.Histogram(balancer, endpoints, Lb.Client(), 1000);

        Assert.Equal([0, 1000], counts);
    }

    [Fact]
    public void LeasesTakenWhilePicking_SpreadConnectionsEvenly()
    {
        var balancer = new LoadBalancer();
        var endpoints = Lb.Endpoints(8);
        var rng = new Random(7);
        var leases = new List<ConnectionLease>();
        for (var i = 0; i < 800; i++)
        {
            var pick = balancer.Pick(endpoints, Lb.Client(), rng);
            leases.Add(balancer.Lease(pick.Endpoint));
        }
        // p2c keeps the maximum load within a small margin of the mean (100 each).
        Assert.All(endpoints, e => Assert.InRange(balancer.Health.OpenConnections(e), 95, 105));
        foreach (var lease in leases) lease.Dispose();
    }

    [Fact]
    public void OneEndpoint_IsPickedAsSingle()
    {
        var endpoints = Lb.Endpoints(1);
        var pick = new LoadBalancer().Pick(endpoints, Lb.Client(), new Random(1));

        Assert.Equal(endpoints[0], pick.Endpoint);
        Assert.Equal(0, pick.Index);
        Assert.Equal(PickStrategy.Single, pick.Strategy);
        Assert.Equal(1, pick.Candidates);
        Assert.False(pick.Panic);
        Assert.Equal("any single/1", pick.Reason);
    }

    [Fact]
    public void SeveralEndpoints_ArePickedByPowerOfTwoChoices()
    {
        var pick = new LoadBalancer().Pick(Lb.Endpoints(3), Lb.Client(), new Random(1));

        Assert.Equal(PickStrategy.PowerOfTwoChoices, pick.Strategy);
        Assert.Equal(3, pick.Candidates);
        Assert.Equal("any p2c/3", pick.Reason);
    }

    [Fact]
    public void NoEndpoints_Throws() =>
        Assert.Throws<ArgumentException>(() => new LoadBalancer().Pick([], Lb.Client(), new Random(1)));

    [Fact]
    public void Picking_CreatesNoHealthEntries()
    {
        var balancer = new LoadBalancer();
        Lb.Histogram(balancer, Lb.Endpoints(10), Lb.Client(), 100);
        Assert.Equal(0, balancer.Health.Count);
    }
}

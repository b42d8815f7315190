using Ambient.Config;
using Ambient.LoadBalancing;

namespace Ambient.Tests.LoadBalancing;

public sealed class LocalityPreferenceTests
{
    private static readonly Workload Client = Lb.Workload("client", "node-a", "us-east/us-east-1/rack-1");

    // Two endpoints per tier, relative to Client.
    private static readonly EndpointTarget SameNode1 = Lb.Endpoint("same-node-1", "node-a", "us-east/us-east-1");
    private static readonly EndpointTarget SameNode2 = Lb.Endpoint("same-node-2", "node-a", "");
    private static readonly EndpointTarget SameZone1 = Lb.Endpoint("same-zone-1", "node-b", "us-east/us-east-1/rack-9");
    private static readonly EndpointTarget SameZone2 = Lb.Endpoint("same-zone-2", "node-c", "us-east/us-east-1");
    private static readonly EndpointTarget SameRegion1 = Lb.Endpoint("same-region-1", "node-d", "us-east/us-east-2");
    private static readonly EndpointTarget SameRegion2 = Lb.Endpoint("same-region-2", "node-e", "us-east");
    private static readonly EndpointTarget Far1 = Lb.Endpoint("far-1", "node-f", "eu-west/eu-west-1");
    private static readonly EndpointTarget Far2 = Lb.Endpoint("far-2", "node-g", "");

    private static readonly EndpointTarget[] All = [Far1, SameRegion1, SameZone1, SameNode1, Far2, SameRegion2, SameZone2, SameNode2];

    [Theory]
    [InlineData("node-a", "eu/eu-1", "node-a", "us/us-1", LocalityTier.Node)] // the node wins over any locality
    [InlineData("node-a", "", "node-a", "", LocalityTier.Node)]
    [InlineData("node-a", "us/us-1", "node-b", "us/us-1", LocalityTier.Zone)]
    [InlineData("node-a", "us/us-1/rack-1", "node-b", "us/us-1/rack-2", LocalityTier.Zone)] // subzone ignored
    [InlineData("node-a", "us/us-1", "node-b", "us/us-2", LocalityTier.Region)]
    [InlineData("node-a", "us/us-1", "node-b", "us", LocalityTier.Region)]
    [InlineData("node-a", "us", "node-b", "us", LocalityTier.Region)] // no zone on either side: not "same zone"
    [InlineData("node-a", "us/us-1", "node-b", "eu/us-1", LocalityTier.Any)] // zone names only count within the region
    [InlineData("node-a", "us/us-1", "node-b", "", LocalityTier.Any)]
    [InlineData("node-a", "", "node-b", "", LocalityTier.Any)] // no locality is not a shared locality
    public void Rank(string clientNode, string clientLocality, string endpointNode, string endpointLocality, LocalityTier expected)
    {
        var client = Lb.Workload("c", clientNode, clientLocality);
        var endpoint = Lb.Workload("e", endpointNode, endpointLocality);
        Assert.Equal(expected, LocalityPreference.Rank(client, endpoint));
    }

    [Theory]
    [InlineData(4, LocalityTier.Node)]
    [InlineData(3, LocalityTier.Zone)]
    [InlineData(2, LocalityTier.Region)]
    [InlineData(1, LocalityTier.Any)]
    public void BestNonEmptyTier_IsUsed(int tiersPresent, LocalityTier expected)
    {
        // tiersPresent = 4: all tiers; 3: no same-node endpoints; ... 1: only far ones.
        var endpoints = All.Where(e => (int)LocalityPreference.Rank(Client, e.Workload) >= 4 - tiersPresent).ToArray();
        var balancer = new LoadBalancer();
        var rng = new Random(3);
        var seen = new HashSet<EndpointTarget>();
        for (var i = 0; i < 200; i++)
        {
            var pick = balancer.Pick(endpoints, Client, rng);
            Assert.Equal(expected, pick.Tier);
            Assert.Equal(expected, LocalityPreference.Rank(Client, pick.Endpoint.Workload));
            Assert.Equal(2, pick.Candidates);
            Assert.False(pick.Panic);
            seen.Add(pick.Endpoint);
        }
        Assert.Equal(2, seen.Count); // both endpoints of the tier are used
    }

    [Fact]
    public void Failover_WalksTheTiersAsEachIsEjected()
    {
        var balancer = new LoadBalancer(new EndpointHealthRegistry(time: new StepClock()));
        var rng = new Random(5);
        (EndpointTarget, EndpointTarget, LocalityTier)[] tiers =
        [
            (SameNode1, SameNode2, LocalityTier.Node),
            (SameZone1, SameZone2, LocalityTier.Zone),
            (SameRegion1, SameRegion2, LocalityTier.Region),
            (Far1, Far2, LocalityTier.Any),
        ];

        foreach (var (first, second, tier) in tiers)
        {
            // One endpoint of the tier ejected: the tier is still used, only its healthy endpoint.
            Lb.Eject(balancer.Health, first);
            for (var i = 0; i < 50; i++)
            {
                var pick = balancer.Pick(All, Client, rng);
                Assert.Equal((second, tier, PickStrategy.Single, false), (pick.Endpoint, pick.Tier, pick.Strategy, pick.Panic));
            }
            // Both ejected: the next tier takes over (or, after the last, panic).
            Lb.Eject(balancer.Health, second);
        }

        var panic = balancer.Pick(All, Client, rng);
        Assert.True(panic.Panic);
    }

    [Fact]
    public void Panic_WhenEveryEndpointIsEjected_UsesAllOfThem()
    {
        var balancer = new LoadBalancer(new EndpointHealthRegistry(time: new StepClock()));
        foreach (var endpoint in All) Lb.Eject(balancer.Health, endpoint);
        Assert.Equal(All.Length, balancer.Health.NotAdmittedCount);

        var rng = new Random(9);
        var counts = new int[All.Length];
        for (var i = 0; i < 8000; i++)
        {
            var pick = balancer.Pick(All, Client, rng);
            Assert.True(pick.Panic);
            Assert.False(pick.Probe);
            Assert.Equal(All.Length, pick.Candidates);
            Assert.Equal(LocalityPreference.Rank(Client, pick.Endpoint.Workload), pick.Tier); // the chosen one's real tier
            Assert.EndsWith(" panic", pick.Reason);
            counts[pick.Index]++;
        }
        Assert.All(counts, c => Assert.InRange(c, 900, 1100)); // every endpoint, not just the preferred tier
    }

    [Fact]
    public void Panic_WithASingleEjectedEndpoint_StillPicksIt()
    {
        var balancer = new LoadBalancer(new EndpointHealthRegistry(time: new StepClock()));
        Lb.Eject(balancer.Health, SameNode1);

        var pick = balancer.Pick([SameNode1], Client, new Random(1));

        Assert.Equal((SameNode1, true, LocalityTier.Node, "node single/1 panic"), (pick.Endpoint, pick.Panic, pick.Tier, pick.Reason));
    }

    [Fact]
    public void Panic_IsLeftOnceAnyEndpointRecovers()
    {
        var balancer = new LoadBalancer(new EndpointHealthRegistry(time: new StepClock()));
        foreach (var endpoint in All) Lb.Eject(balancer.Health, endpoint);
        balancer.ReportSuccess(Far2);

        var pick = balancer.Pick(All, Client, new Random(1));

        Assert.Equal((Far2, false, LocalityTier.Any), (pick.Endpoint, pick.Panic, pick.Tier));
    }

    [Fact]
    public void Select_MarksThePool()
    {
        var health = new EndpointHealthRegistry(time: new StepClock());
        Lb.Eject(health, SameNode2);
        Span<byte> pool = stackalloc byte[All.Length];

        var selection = LocalityPreference.Select(All, Client, health, pool);

        Assert.Equal(new LocalitySelection(LocalityTier.Node, 1, false), selection);
        Assert.Equal([0, 0, 0, 1, 0, 0, 0, 0], pool.ToArray());

        var ignoringHealth = LocalityPreference.Select(All, Client, null, pool);
        Assert.Equal(new LocalitySelection(LocalityTier.Node, 2, false), ignoringHealth);
        Assert.Equal([0, 0, 0, 1, 0, 0, 0, 1], pool.ToArray());
    }

    [Fact]
    public void Select_RejectsAShortPool() =>
        Assert.Throws<ArgumentException>(() => LocalityPreference.Select(All, Client, null, new byte[All.Length - 1]));
}

using Ambient.Config;
using Ambient.LoadBalancing;

namespace Ambient.Tests.LoadBalancing;

public sealed class EndpointHealthRegistryTests
{
    private const string TwoEndpoints = """
        workloads:
          - name: echo-1
            namespace: default
            addresses: [10.0.0.1]
            labels: {app: echo}
          - name: echo-2
            namespace: default
            addresses: [10.0.0.2]
            labels: {app: echo}
        services:
          - name: echo
            namespace: default
            vips: [10.96.0.1]
            ports: {80: 8080, 90: 9090}
            selector: {app: echo}
        """;

    private const string OneEndpoint = """
        workloads:
          - name: echo-1
            namespace: default
            addresses: [10.0.0.1]
            labels: {app: echo}
          - name: echo-2
            namespace: default
            addresses: [10.0.0.2]
            labels: {app: other}
        services:
          - name: echo
            namespace: default
            vips: [10.96.0.1]
            ports: {80: 8080}
            selector: {app: echo}
        """;

    private static MeshSnapshot Snapshot(string yaml)
    {
        var result = ConfigLoader.LoadText(yaml, "ambient.yaml", 1);
        Assert.True(result.Ok, string.Join("\n", result.Errors));
        return new MeshSnapshot(result.Config!);
    }

    private static EndpointTarget[] Targets(MeshSnapshot snapshot, int port) =>
        [.. snapshot.EndpointsOf(snapshot.ServiceByHostname("default", "echo.default.svc.cluster.local")!, port)];

    [Fact]
    public void Retain_DropsEndpointsThatLeftTheConfig_OnceTheirConnectionsClose()
    {
        var health = new EndpointHealthRegistry(time: new StepClock());
        var before = Snapshot(TwoEndpoints);
        var port80 = Targets(before, 80);
        var port90 = Targets(before, 90);
        Assert.Equal(2, port80.Length);
        var echo2 = port80.Single(e => e.Workload.Name == "echo-2");
        var lease = health.Lease(echo2);
        health.Lease(port80.Single(e => e.Workload.Name == "echo-1")).Dispose();
        Lb.Eject(health, port90[0]);
        Assert.Equal((3, 1), (health.Count, health.NotAdmittedCount));

        var after = Snapshot(OneEndpoint);
        Assert.Equal(1, health.Retain(after)); // port 90 is gone; echo-2 still has a connection
        Assert.Equal((2, 0), (health.Count, health.NotAdmittedCount));
        Assert.NotNull(health.Find(echo2));

        lease.Dispose();
        Assert.Equal(1, health.Retain(after));
        Assert.Null(health.Find(echo2));
        Assert.NotNull(health.Find(port80.Single(e => e.Workload.Name == "echo-1")));

        Assert.Equal(1, health.Retain(MeshSnapshot.Empty));
        Assert.Equal(0, health.Count);
    }

    [Fact]
    public void ALeaseOnARetiredEntry_StillBalances()
    {
        var health = new EndpointHealthRegistry();
        var endpoint = Lb.Endpoint("gone");
        var entry = health.Get(endpoint);
        Assert.Equal(1, health.Retain(_ => false));

        using (entry.Lease())
            Assert.Equal(1, entry.OpenConnections);

        Assert.Equal(0, entry.OpenConnections);
        Assert.NotSame(entry, health.Get(endpoint));
    }

    [Fact]
    public void KeysAreWorkloadAndTargetPort()
    {
        var health = new EndpointHealthRegistry();
        var workload = Lb.Workload("multi-port");
        using var a = health.Lease(new EndpointTarget(workload, 80));
        using var b = health.Lease(new EndpointTarget(workload with { }, 80)); // equal uid: same entry
        using var c = health.Lease(new EndpointTarget(workload, 90));

        Assert.Equal(2, health.OpenConnections(new EndpointTarget(workload, 80)));
        Assert.Equal(1, health.OpenConnections(new EndpointTarget(workload, 90)));
        Assert.Equal(new EndpointKey(workload.Uid, 90), health.Find(new EndpointTarget(workload, 90))!.Key);
    }

    [Fact]
    public void Lease_CountsUntilDisposed_AndDisposingTwiceIsHarmless()
    {
        var health = new EndpointHealthRegistry();
        var endpoint = Lb.Endpoint("leased");
        var lease = health.Lease(endpoint);
        Assert.Equal(1, health.OpenConnections(endpoint));
        Assert.NotNull(lease.Health);

        lease.Dispose();
        lease.Dispose();

        Assert.Equal(0, health.OpenConnections(endpoint));
        Assert.Null(lease.Health);
        default(ConnectionLease).Dispose(); // the empty lease does nothing
        default(ConnectionLease).ReportFailure();
    }

    [Fact]
    public void ExplicitDisposeInsideUsing_CountsOnce()
    {
        var health = new EndpointHealthRegistry();
        var endpoint = Lb.Endpoint("early-release");
        using var other = health.Lease(endpoint);
        {
            using var lease = health.Lease(endpoint);
            lease.Dispose(); // e.g. released early on one path; the using's Dispose is then a no-op
            Assert.Equal(1, health.OpenConnections(endpoint));
        }
        Assert.Equal(1, health.OpenConnections(endpoint));
    }

    [Fact]
    public void Lease_ReportsThroughItsEntry()
    {
        var health = new EndpointHealthRegistry(time: new StepClock());
        var endpoint = Lb.Endpoint("reported");
        for (var i = 0; i < 3; i++)
        {
            using var lease = health.Lease(endpoint);
            lease.ReportFailure();
        }
        Assert.Equal(EndpointState.Ejected, health.Get(endpoint).State);

        using (var lease = health.Lease(endpoint))
            lease.ReportSuccess();
        Assert.Equal(EndpointState.Admitted, health.Get(endpoint).State);
    }
}

using System.Net;
using System.Text.Json.Nodes;
using Ambient.Config;
using static Ambient.Tests.Kubernetes.KubeObjects;

namespace Ambient.Tests.Kubernetes;

/// <summary>
/// The Kubernetes source against <see cref="FakeApiServer"/>: initial list, watch events, bookmarks, resume after a
/// dropped watch, relist on 410 Gone, an unreachable API server, and invalid objects.
/// </summary>
public sealed partial class KubernetesSourceTests
{
    private const string ReviewsKey = "bookinfo/reviews.bookinfo.svc.cluster.local";

    /// <summary>A small ambient mesh: one ambient namespace with a waypoint, one plain namespace.</summary>
    private static void SeedMesh(FakeApiServer server)
    {
        server.ApplyAll(
        [
            Namespace("bookinfo", ("istio.io/dataplane-mode", "ambient"), ("istio.io/use-waypoint", "waypoint")),
            Namespace("legacy"),
            Namespace("istio-system"),
            Pod("bookinfo", "productpage", "10.244.1.5", "bookinfo-productpage", "node-a", [("app", "productpage")]),
            Pod("bookinfo", "reviews-v1", "10.244.2.7", "bookinfo-reviews", "node-b", [("app", "reviews"), ("version", "v1")], ports: [("http-web", 9080)]),
            Pod("bookinfo", "opted-out", "10.244.1.9", "default", "node-a", [("app", "ratings"), ("istio.io/dataplane-mode", "none")]),
            Pod("bookinfo", "waypoint-abc", "10.244.1.20", "waypoint", "node-a",
                [("gateway.istio.io/managed", "istio.io-mesh-controller"), ("gateway.networking.k8s.io/gateway-name", "waypoint")]),
            Pod("bookinfo", "pending", "10.244.1.99", phase: "Pending"),
            Pod("legacy", "curl", "10.244.3.3", "curl", "node-b", [("app", "curl")]),
            Service("bookinfo", "reviews", "10.96.0.20", [("http", 9080, "http-web")], selector: [("app", "reviews")]),
            Service("bookinfo", "productpage", "10.96.0.10", [("http", 9080, 9080)], selector: [("app", "productpage")]),
            Service("bookinfo", "waypoint", "10.96.0.100", [("mesh", 15008, 15008)],
                labels: [("gateway.istio.io/managed", "istio.io-mesh-controller")]),
            EndpointSlice("bookinfo", "reviews", "reviews-abcde", [("reviews-v1", "10.244.2.7", true)], [("http", 9080)]),
            WaypointGateway("bookinfo", "waypoint", "waypoint.bookinfo.svc.cluster.local"),
            YamlJson.Parse("""
                apiVersion: security.istio.io/v1
                kind: AuthorizationPolicy
                metadata:
                  name: reviews-allow-productpage
                  namespace: bookinfo
                spec:
                  selector:
                    matchLabels:
                      app: reviews
                  action: ALLOW
                  rules:
                  - from:
                    - source:
                        principals: ["cluster.local/ns/bookinfo/sa/bookinfo-productpage"]
                    to:
                    - operation:
                        ports: ["9080"]
                """),
            YamlJson.Parse("""
                apiVersion: security.istio.io/v1
                kind: PeerAuthentication
                metadata:
                  name: default
                  namespace: istio-system
                spec:
                  mtls:
                    mode: STRICT
                """),
        ]);
    }

    [Fact]
    public async Task InitialList_BuildsTheSnapshot()
    {
        await using var h = await SourceHarness.StartAsync(SeedMesh);
        var snapshot = h.Snapshot;
        var config = snapshot.Config;
        Assert.True(snapshot.Generation >= 1);
        Assert.StartsWith("kubernetes http://127.0.0.1:", config.Source);

        var productpage = Assert.IsType<Workload>(SourceHarness.WorkloadByName(snapshot, "bookinfo", "productpage"));
        Assert.Equal(WorkloadProtocol.Hbone, productpage.Protocol);
        Assert.Equal("spiffe://cluster.local/ns/bookinfo/sa/bookinfo-productpage", productpage.Identity);
        Assert.Equal(PodUid("bookinfo", "productpage"), productpage.Uid);
        Assert.Equal("node-a", productpage.Node);
        Assert.Equal<IPAddress>([IPAddress.Parse("10.244.1.5")], productpage.Addresses);
        Assert.Equal("productpage", productpage.Labels["app"]);
        Assert.Equal(new NamespacedName("bookinfo", "waypoint"), productpage.Waypoint);
        Assert.Same(productpage, snapshot.WorkloadByAddress(IPAddress.Parse("10.244.1.5")));

        var optedOut = SourceHarness.WorkloadByName(snapshot, "bookinfo", "opted-out")!;
        Assert.Equal(WorkloadProtocol.Tcp, optedOut.Protocol);
        Assert.Null(optedOut.Waypoint);

        var waypointPod = SourceHarness.WorkloadByName(snapshot, "bookinfo", "waypoint-abc")!;
        Assert.Equal(WorkloadProtocol.Hbone, waypointPod.Protocol);
        Assert.Null(waypointPod.Waypoint);

        var curl = SourceHarness.WorkloadByName(snapshot, "legacy", "curl")!;
        Assert.Equal(WorkloadProtocol.Tcp, curl.Protocol);
        Assert.Equal("spiffe://cluster.local/ns/legacy/sa/curl", curl.Identity);
        Assert.Null(curl.Waypoint);

        Assert.Null(SourceHarness.WorkloadByName(snapshot, "bookinfo", "pending"));
        Assert.Equal(5, config.Workloads.Length);

        var reviews = Assert.IsType<Service>(snapshot.ServiceByVip(IPAddress.Parse("10.96.0.20")));
        Assert.Equal("reviews.bookinfo.svc.cluster.local", reviews.Hostname);
        Assert.Equal(9080, reviews.Ports[9080]); // named targetPort "http-web" resolved
        Assert.Equal("reviews", reviews.Selector!["app"]);
        Assert.Equal(new NamespacedName("bookinfo", "waypoint"), reviews.Waypoint);
        Assert.Null(snapshot.ServiceByName("bookinfo", "waypoint")!.Waypoint);

        var reviewsPod = SourceHarness.WorkloadByName(snapshot, "bookinfo", "reviews-v1")!;
        Assert.Equal(9080, reviewsPod.Services[ReviewsKey][9080]);
        var endpoint = Assert.Single(snapshot.EndpointsOf(reviews, 9080));
        Assert.Same(reviewsPod, endpoint.Workload);
        Assert.Equal(9080, endpoint.TargetPort);
        Assert.Same(SourceHarness.WorkloadByName(snapshot, "bookinfo", "productpage"),
            Assert.Single(snapshot.EndpointsOf(snapshot.ServiceByName("bookinfo", "productpage")!, 9080)).Workload);

        var policy = Assert.Single(config.AuthorizationPolicies);
        Assert.Equal("bookinfo/reviews-allow-productpage", policy.Key);
        Assert.Equal<string>(["cluster.local/ns/bookinfo/sa/bookinfo-productpage"], policy.Rules[0].From[0].Principals);
        Assert.Equal<int>([9080], policy.Rules[0].To[0].Ports);
        Assert.Equal<AuthorizationPolicy>([policy], snapshot.PoliciesFor(reviewsPod));
        Assert.Empty(snapshot.PoliciesFor(productpage));
        var mtls = Assert.Single(config.PeerAuthentications);
        Assert.Equal(MtlsMode.Strict, mtls.Mtls);
        Assert.Equal<PeerAuthentication>([mtls], snapshot.PeerAuthenticationsFor(curl));
    }

    [Fact]
    public async Task WatchEvents_AddModifyDelete_UpdateTheSnapshot()
    {
        await using var h = await SourceHarness.StartAsync(SeedMesh);
        var start = h.Snapshot.Generation;

        h.Server.Apply(Pod("bookinfo", "reviews-v2", "10.244.2.8", "bookinfo-reviews", "node-b", [("app", "reviews"), ("version", "v2")], ports: [("http-web", 9080)]));
        var added = await h.WaitForAsync(s => SourceHarness.WorkloadByName(s, "bookinfo", "reviews-v2") is not null, "ADDED pod");
        Assert.True(added.Generation > start);
        Assert.Equal(WorkloadProtocol.Hbone, SourceHarness.WorkloadByName(added, "bookinfo", "reviews-v2")!.Protocol);
        // Selected by the reviews service (named port resolved through its containerPorts) even before its slice exists.
        Assert.Equal(2, added.EndpointsOf(added.ServiceByName("bookinfo", "reviews")!, 9080).Length);

        h.Server.Apply(Pod("bookinfo", "reviews-v2", "10.244.2.8", "bookinfo-reviews", "node-b",
            [("app", "reviews"), ("version", "v2"), ("istio.io/dataplane-mode", "none")], ports: [("http-web", 9080)]));
        var modified = await h.WaitForAsync(s => SourceHarness.WorkloadByName(s, "bookinfo", "reviews-v2")?.Protocol == WorkloadProtocol.Tcp, "MODIFIED pod opted out");
        Assert.True(modified.Generation > added.Generation);

        h.Server.Delete("Pod", "bookinfo", "reviews-v2");
        var deleted = await h.WaitForAsync(s => SourceHarness.WorkloadByName(s, "bookinfo", "reviews-v2") is null, "DELETED pod");
        Assert.Null(deleted.WorkloadByAddress(IPAddress.Parse("10.244.2.8")));

        // Services, namespaces and policies are watched too.
        h.Server.Apply(Namespace("legacy", ("istio.io/dataplane-mode", "ambient")));
        await h.WaitForAsync(s => SourceHarness.WorkloadByName(s, "legacy", "curl")?.Protocol == WorkloadProtocol.Hbone, "namespace enrolled");
        h.Server.Delete("AuthorizationPolicy", "bookinfo", "reviews-allow-productpage");
        await h.WaitForAsync(s => s.Config.AuthorizationPolicies.IsEmpty, "policy deleted");
        h.Server.Apply(Service("bookinfo", "reviews", "10.96.0.21", [("http", 9080, "http-web")], selector: [("app", "reviews")]));
        await h.WaitForAsync(s => s.ServiceByVip(IPAddress.Parse("10.96.0.21")) is not null && s.ServiceByVip(IPAddress.Parse("10.96.0.20")) is null, "service VIP changed");
    }

    [Fact]
    public async Task IrrelevantChanges_DoNotPublish()
    {
        await using var h = await SourceHarness.StartAsync(SeedMesh);
        var generation = h.Snapshot.Generation;
        var pod = h.Server.Get("Pod", "bookinfo", "productpage")!;
        pod["status"]!["conditions"]![0]!["lastProbeTime"] = "2025-03-01T10:00:00Z";
        pod["metadata"]!["annotations"] = new JsonObject { ["kubectl.kubernetes.io/restartedAt"] = "now" };
        h.Server.Apply(pod);
        await h.WaitUntilAsync(() => h.Source.Resources.Single(r => r.Kind == "Pod").ResourceVersion == h.Server.ResourceVersion.ToString(), "event seen");
        await Task.Delay(200);
        Assert.Equal(generation, h.Snapshot.Generation);
    }

    [Fact]
    public async Task Bookmark_AdvancesTheResourceVersionUsedOnReconnect()
    {
        await using var h = await SourceHarness.StartAsync(SeedMesh);
        await h.WaitUntilAsync(() => h.Server.OpenWatches("pods") == 1, "pod watch open");
        var watch = h.Server.RequestsFor("pods").Last(r => r.Watch);
        Assert.Equal("true", watch.Query["allowWatchBookmarks"]);

        h.Server.AdvanceResourceVersion(37); // other objects changed; nothing for pods
        var bookmark = h.Server.Bookmark("pods");
        await h.WaitUntilAsync(() => h.Source.Resources.Single(r => r.Kind == "Pod").ResourceVersion == bookmark.ToString(), "bookmark applied");
        var generation = h.Snapshot.Generation;

        var before = h.Server.Requests.Count;
        h.Server.DropWatches("pods");
        await h.WaitUntilAsync(() => h.Server.Requests.Skip(before).Any(r => r.Plural == "pods"), "reconnect");
        var reconnect = h.Server.Requests.Skip(before).First(r => r.Plural == "pods");
        Assert.True(reconnect.Watch, "a dropped watch resumes with a watch, not a list");
        Assert.Equal(bookmark.ToString(), reconnect.ResourceVersion);
        Assert.Equal(generation, h.Snapshot.Generation); // a bookmark is not a change
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task DroppedWatch_ResumesFromTheLastResourceVersion(bool abortConnection)
    {
        await using var h = await SourceHarness.StartAsync(SeedMesh);
        var last = h.Server.Apply(Pod("bookinfo", "ratings-v1", "10.244.1.30", "bookinfo-ratings", labels: [("app", "ratings")]));
        await h.WaitForAsync(s => SourceHarness.WorkloadByName(s, "bookinfo", "ratings-v1") is not null, "event before the drop");
        var lastVersion = last["metadata"]!["resourceVersion"]!.GetValue<string>();
        var lists = h.Server.RequestsFor("pods").Count(r => !r.Watch);

        var before = h.Server.Requests.Count;
        h.Server.DropWatches("pods", abort: abortConnection);
        // Changes while the client is reconnecting are replayed from the server's history.
        h.Server.Apply(Pod("bookinfo", "ratings-v2", "10.244.1.31", "bookinfo-ratings", labels: [("app", "ratings")]));
        h.Server.Delete("Pod", "bookinfo", "ratings-v1");

        await h.WaitForAsync(s => SourceHarness.WorkloadByName(s, "bookinfo", "ratings-v2") is not null
                                  && SourceHarness.WorkloadByName(s, "bookinfo", "ratings-v1") is null, "events during the reconnect");
        var reconnect = h.Server.Requests.Skip(before).First(r => r.Plural == "pods");
        Assert.True(reconnect.Watch);
        Assert.Equal(lastVersion, reconnect.ResourceVersion);
        Assert.Equal(lists, h.Server.RequestsFor("pods").Count(r => !r.Watch)); // no relist
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Gone_RelistsAndDropsObjectsDeletedMeanwhile(bool goneAsErrorEvent)
    {
        await using var h = await SourceHarness.StartAsync(SeedMesh);
        h.Server.GoneAsErrorEvent = goneAsErrorEvent;
        var lists = h.Server.RequestsFor("pods").Count(r => !r.Watch);

        // The client misses events: the server fails while the history moves on and is compacted.
        h.Server.FailAll = true;
        h.Server.DropWatches();
        h.Server.Delete("Pod", "legacy", "curl");
        h.Server.Delete("AuthorizationPolicy", "bookinfo", "reviews-allow-productpage");
        h.Server.Apply(Pod("bookinfo", "ratings-v1", "10.244.1.30", "bookinfo-ratings", labels: [("app", "ratings")]));
        h.Server.Compact();
        await h.WaitUntilAsync(() => h.Source.Resources.Single(r => r.Kind == "Pod").ConsecutiveFailures > 0, "client noticed the failure");
        h.Server.FailAll = false;

        var snapshot = await h.WaitForAsync(s => SourceHarness.WorkloadByName(s, "bookinfo", "ratings-v1") is not null
                                                 && SourceHarness.WorkloadByName(s, "legacy", "curl") is null
                                                 && s.Config.AuthorizationPolicies.IsEmpty, "relisted state");
        Assert.NotNull(SourceHarness.WorkloadByName(snapshot, "bookinfo", "productpage"));
        Assert.Null(snapshot.WorkloadByAddress(IPAddress.Parse("10.244.3.3")));
        Assert.True(h.Server.RequestsFor("pods").Count(r => !r.Watch) > lists, "410 must trigger a relist");
        Assert.NotNull(await h.Logs.WaitForAsync(TimeSpan.FromSeconds(1), "Pod", "410 Gone", "relisting"));
    }

    [Fact]
    public async Task ErrorEvent410_OnAnOpenWatch_Relists()
    {
        await using var h = await SourceHarness.StartAsync(SeedMesh);
        await h.WaitUntilAsync(() => h.Server.OpenWatches("services") == 1, "service watch open");
        var lists = h.Server.RequestsFor("services").Count(r => !r.Watch);
        // The service disappears while the client cannot watch, and the history it would need is compacted away.
        h.Server.SetResourceFault("services", ResourceFault.Error);
        h.Server.DropWatches("services");
        h.Server.Delete("Service", "bookinfo", "productpage");
        h.Server.Compact();
        await h.WaitUntilAsync(() => h.Source.Resources.Single(r => r.Kind == "Service").ConsecutiveFailures > 0, "client noticed the failure");
        h.Server.SetResourceFault("services", ResourceFault.None);
        await h.WaitForAsync(s => s.ServiceByName("bookinfo", "productpage") is null, "service gone after relist");
        Assert.True(h.Server.RequestsFor("services").Count(r => !r.Watch) > lists);

        // And the ERROR event itself, on a live watch.
        await h.WaitUntilAsync(() => h.Server.OpenWatches("services") == 1, "service watch open again");
        lists = h.Server.RequestsFor("services").Count(r => !r.Watch);
        h.Server.ExpireWatches("services");
        await h.WaitUntilAsync(() => h.Server.RequestsFor("services").Count(r => !r.Watch) > lists, "relist after ERROR 410");
    }

    [Fact]
    public async Task ApiServerDown_KeepsTheLastSnapshot_AndRecoversWithBackoff()
    {
        await using var h = await SourceHarness.StartAsync(SeedMesh);
        var good = h.Snapshot;

        // Phase 1: the API server answers 500 to everything. Retries back off exponentially, with jitter.
        var logStart = h.Logs.Lines.Count;
        h.Server.FailAll = true;
        var failStart = h.Server.Requests.Count;
        h.Server.DropWatches();
        await h.WaitUntilAsync(() => h.Server.Requests.Skip(failStart).Count(r => r.Plural == "pods") >= 5, "five failed pod requests", TimeSpan.FromSeconds(10));
        // The n-th consecutive failure waits a random time in [d/2, d], d = 50 ms * 2^(n-1) capped at 400 ms.
        var delays = h.Logs.Lines.Skip(logStart)
            .Select(l => RetryLine().Match(l)).Where(m => m.Success)
            .Select(m => (Attempt: int.Parse(m.Groups[1].Value), Delay: TimeSpan.Parse(m.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture)))
            .ToList();
        for (var attempt = 1; attempt <= 4; attempt++)
        {
            var ceiling = Math.Min(50 * Math.Pow(2, attempt - 1), 400);
            var delay = delays.First(d => d.Attempt == attempt).Delay.TotalMilliseconds;
            Assert.InRange(delay, ceiling / 2 - 1, ceiling + 1);
        }
        // ...and the server saw the requests spaced at least that far apart.
        var times = h.Server.Requests.Skip(failStart).Where(r => r.Plural == "pods").Select(r => r.Time).Take(5).ToList();
        var gaps = times.Zip(times.Skip(1), (a, b) => (b - a).TotalMilliseconds).ToList();
        Assert.True(gaps[3] >= 100 && gaps.Sum() >= 200, "backoff gaps: " + string.Join(", ", gaps.Select(g => $"{g:F0} ms")));
        Assert.Same(good, h.Snapshot);

        // Phase 2: nothing listens at all (connection refused); changes happen meanwhile.
        await h.Server.StopAsync();
        h.Server.FailAll = false;
        h.Server.Apply(Pod("bookinfo", "ratings-v1", "10.244.1.30", "bookinfo-ratings", labels: [("app", "ratings")]));
        h.Server.Delete("Pod", "bookinfo", "opted-out");
        await Task.Delay(300);
        Assert.Same(good, h.Snapshot);
        Assert.NotNull(SourceHarness.WorkloadByName(h.Snapshot, "bookinfo", "opted-out"));
        Assert.Contains(h.Source.Resources, r => r.Kind == "Pod" && r.ConsecutiveFailures > 0 && r.LastError is not null);

        await h.Server.RestartAsync();
        var recovered = await h.WaitForAsync(s => SourceHarness.WorkloadByName(s, "bookinfo", "ratings-v1") is not null
                                                  && SourceHarness.WorkloadByName(s, "bookinfo", "opted-out") is null, "recovered");
        Assert.True(recovered.Generation > good.Generation);
        await h.WaitUntilAsync(() => h.Source.Resources.All(r => r.ConsecutiveFailures == 0), "all resources healthy");
        Assert.NotNull(await h.Logs.WaitForAsync(TimeSpan.FromSeconds(1), "reachable again"));
    }

    [Fact]
    public async Task InvalidObjects_AreRejectedAlone()
    {
        await using var h = await SourceHarness.StartAsync(server =>
        {
            SeedMesh(server);
            server.Apply(YamlJson.Parse("""
                apiVersion: security.istio.io/v1
                kind: AuthorizationPolicy
                metadata:
                  name: bad-ipblock
                  namespace: bookinfo
                spec:
                  action: DENY
                  rules:
                  - from:
                    - source:
                        ipBlocks: ["10.0.0.300/8"]
                """));
            server.Apply(YamlJson.Parse("""
                apiVersion: security.istio.io/v1
                kind: PeerAuthentication
                metadata:
                  name: typo
                  namespace: bookinfo
                spec:
                  mtls:
                    mode: STRICTEST
                """));
            var badPod = Pod("bookinfo", "bad-ip", "10.244.1.999");
            server.Apply(badPod);
        });
        var config = h.Snapshot.Config;
        Assert.Equal(["bookinfo/reviews-allow-productpage"], config.AuthorizationPolicies.Select(p => p.Key));
        Assert.Equal(["istio-system/default"], config.PeerAuthentications.Select(p => p.Key));
        Assert.Null(SourceHarness.WorkloadByName(h.Snapshot, "bookinfo", "bad-ip"));
        Assert.Equal(5, config.Workloads.Length);

        Assert.NotNull(await h.Logs.WaitForAsync(TimeSpan.FromSeconds(1),
            "AuthorizationPolicy bookinfo/bad-ipblock", "spec.rules[0].from[0].source.ipBlocks[0]", "'10.0.0.300/8' is not an IP address or CIDR block"));
        Assert.NotNull(await h.Logs.WaitForAsync(TimeSpan.FromSeconds(1), "PeerAuthentication bookinfo/typo", "spec.mtls.mode", "STRICTEST"));
        Assert.NotNull(await h.Logs.WaitForAsync(TimeSpan.FromSeconds(1), "Pod bookinfo/bad-ip", "status.podIPs[0].ip", "'10.244.1.999' is not an IP address"));
        Assert.Equal(["AuthorizationPolicy bookinfo/bad-ipblock", "PeerAuthentication bookinfo/typo", "Pod bookinfo/bad-ip"],
            h.Source.Problems.Select(p => $"{p.Kind} {p.ObjectName}").Order());

        // Fixing the policy brings it in.
        h.Server.Apply(YamlJson.Parse("""
            apiVersion: security.istio.io/v1
            kind: AuthorizationPolicy
            metadata:
              name: bad-ipblock
              namespace: bookinfo
            spec:
              action: DENY
              rules:
              - from:
                - source:
                    ipBlocks: ["10.0.0.0/8"]
            """));
        var fixedSnapshot = await h.WaitForAsync(s => s.Config.AuthorizationPolicies.Length == 2, "fixed policy applied");
        Assert.DoesNotContain(h.Source.Problems, p => p.Name == "bad-ipblock");
        Assert.Equal(AuthorizationAction.Deny, fixedSnapshot.Config.AuthorizationPolicies.Single(p => p.Name == "bad-ipblock").Action);
        Assert.NotNull(await h.Logs.WaitForAsync(TimeSpan.FromSeconds(1), "AuthorizationPolicy bookinfo/bad-ipblock is no longer rejected"));
        // Each problem is logged once, not on every rebuild.
        Assert.Single(h.Logs.Lines, l => l.Contains("Pod bookinfo/bad-ip", StringComparison.Ordinal));
    }

    [Fact]
    public async Task NothingIsPublished_UntilEveryResourceWasListed()
    {
        await using var h = await SourceHarness.StartAsync(server =>
        {
            SeedMesh(server);
            server.SetResourceFault("authorizationpolicies", ResourceFault.Error);
        }, waitForSync: false);
        await h.WaitUntilAsync(() => h.Server.RequestsFor("authorizationpolicies").Count() >= 3, "policy list retried");
        await h.WaitUntilAsync(() => h.Source.Resources.Count(r => r.Synced) == Ambient.Discovery.Kubernetes.KubernetesResource.All.Count - 1, "the other resources listed");
        await Task.Delay(100);
        Assert.Equal(0, h.Snapshot.Generation); // pods without their policies would be a hole
        Assert.False(h.Source.HasSynced);

        h.Server.SetResourceFault("authorizationpolicies", ResourceFault.None);
        await h.Source.WaitForInitialSyncAsync().WaitAsync(SourceHarness.DefaultWait);
        Assert.Single(h.Snapshot.Config.AuthorizationPolicies);
        Assert.Equal(1, h.Snapshot.Generation);
    }

    [Fact]
    public async Task MissingCrds_AreTreatedAsEmpty()
    {
        await using var h = await SourceHarness.StartAsync(server =>
        {
            SeedMesh(server);
            server.SetResourceFault("gateways", ResourceFault.NotServed);
            server.SetResourceFault("peerauthentications", ResourceFault.NotServed);
        });
        Assert.Empty(h.Snapshot.Config.PeerAuthentications);
        Assert.NotEmpty(h.Snapshot.Config.Workloads);
        Assert.Null(SourceHarness.WorkloadByName(h.Snapshot, "bookinfo", "productpage")!.Waypoint); // no Gateway, no waypoint
        Assert.Contains(h.Source.Resources, r => r.Kind == "Gateway" && r is { Synced: true, Served: false });
        Assert.NotNull(await h.Logs.WaitForAsync(TimeSpan.FromSeconds(1), "waypoint 'bookinfo/waypoint' is not a Gateway of class istio-waypoint"));
    }

    [Fact]
    public async Task PaginatedLists_AreFollowedToTheEnd()
    {
        await using var h = await SourceHarness.StartAsync(SeedMesh, SourceHarness.FastOptions with { ListPageSize = 2 });
        Assert.Equal(5, h.Snapshot.Config.Workloads.Length);
        var podLists = h.Server.RequestsFor("pods").Where(r => !r.Watch).ToList();
        Assert.Equal(3, podLists.Count); // 6 pods, 2 per page
        Assert.All(podLists, r => Assert.Equal("2", r.Query["limit"]));
        Assert.Equal(2, podLists.Count(r => r.Query.ContainsKey("continue")));
    }

    [Fact]
    public async Task BurstsOfEvents_AreDebouncedIntoFewSnapshots()
    {
        await using var h = await SourceHarness.StartAsync(SeedMesh, SourceHarness.FastOptions with { DebounceDelay = TimeSpan.FromMilliseconds(150) });
        var start = h.Snapshot.Generation;
        for (var i = 0; i < 30; i++) h.Server.Apply(Pod("legacy", $"batch-{i}", $"10.244.9.{i + 1}"));
        var snapshot = await h.WaitForAsync(s => s.Config.Workloads.Count(w => w.Name.StartsWith("batch-", StringComparison.Ordinal)) == 30, "all 30 pods");
        Assert.True(snapshot.Generation - start <= 3, $"30 events became {snapshot.Generation - start} snapshots");
    }

    [Fact]
    public async Task IstioAndGatewayApiManifests_Load()
    {
        await using var h = await SourceHarness.StartAsync(server =>
        {
            server.ApplyAll(YamlJson.LoadFixture("bookinfo-ambient.yaml"));
            server.ApplyAll(YamlJson.LoadFixture("istio-security.yaml"));
        });
        var snapshot = h.Snapshot;
        var config = snapshot.Config;
        Assert.DoesNotContain(h.Logs.Lines, l => l.Contains("Ignoring", StringComparison.Ordinal));

        var waypoint = new NamespacedName("bookinfo", "waypoint");
        var productpage = SourceHarness.WorkloadByName(snapshot, "bookinfo", "productpage-v1-d5789fdfb-8wq2x")!;
        Assert.Equal("0f3c7a3e-4d1b-4b8e-9c55-2f1b7c0e9a01", productpage.Uid);
        Assert.Equal("spiffe://cluster.local/ns/bookinfo/sa/bookinfo-productpage", productpage.Identity);
        Assert.Equal("kind-worker", productpage.Node);
        Assert.Equal(WorkloadProtocol.Hbone, productpage.Protocol);
        Assert.Equal(waypoint, productpage.Waypoint);
        Assert.Equal(WorkloadProtocol.Tcp, SourceHarness.WorkloadByName(snapshot, "bookinfo", "ratings-v1-7c9bd4b87f-4qb8n")!.Protocol);
        Assert.Equal(WorkloadProtocol.Hbone, SourceHarness.WorkloadByName(snapshot, "bookinfo", "waypoint-6c8f9b5d7-tq2lm")!.Protocol);
        var curl = SourceHarness.WorkloadByName(snapshot, "legacy", "curl-5b549b49b8-mp9sl")!;
        Assert.Equal<IPAddress>([IPAddress.Parse("10.244.2.30"), IPAddress.Parse("fd00:10:244:2::1e")], curl.Addresses);
        Assert.Null(SourceHarness.WorkloadByName(snapshot, "bookinfo", "details-v1-65cfcf56f9-x7k2p"));

        Assert.Equal(waypoint, snapshot.ServiceByName("bookinfo", "reviews")!.Waypoint);
        Assert.Null(snapshot.ServiceByName("bookinfo", "ratings")!.Waypoint); // istio.io/use-waypoint: none
        Assert.Null(snapshot.ServiceByName("bookinfo", "waypoint")!.Waypoint);
        Assert.Equal([(15008, 15008), (15021, 15021)], PortList(snapshot.ServiceByName("bookinfo", "waypoint")!.Ports));
        var dns = snapshot.ServiceByName("kube-system", "kube-dns")!;
        Assert.Equal<int>([53, 9153], dns.Ports.Keys.Order()); // the UDP port is not proxied
        var reviews = snapshot.ServiceByName("bookinfo", "reviews")!;
        Assert.Equal(9080, reviews.Ports[9080]);
        Assert.Equal("reviews-v1-5fd6d4f8f8-66j45", Assert.Single(snapshot.EndpointsOf(reviews, 9080)).Workload.Name);

        Assert.Equal(
            ["bookinfo/productpage-viewer", "bookinfo/reviews-get-only", "bookinfo/waypoint-deny-delete", "istio-system/deny-external", "legacy/allow-nothing"],
            config.AuthorizationPolicies.Select(p => p.Key).Order());
        var deny = config.AuthorizationPolicies.Single(p => p.Name == "deny-external");
        Assert.Equal(AuthorizationAction.Deny, deny.Action);
        Assert.Equal<IPNetwork>([IPNetwork.Parse("10.244.0.0/16"), IPNetwork.Parse("fd00:10:244::/56")], deny.Rules[0].From[0].NotIpBlocks);
        Assert.Equal<int>([15021], deny.Rules[0].To[0].NotPorts);
        Assert.Equal("destination.port", deny.Rules[0].When[0].Key);
        var viaWaypoint = config.AuthorizationPolicies.Single(p => p.Name == "waypoint-deny-delete");
        Assert.Equal("Gateway", Assert.Single(viaWaypoint.TargetRefs).Kind);
        Assert.Empty(config.AuthorizationPolicies.Single(p => p.Name == "allow-nothing").Rules);
        Assert.Equal(2, snapshot.PoliciesFor(productpage).Length); // mesh-wide deny + productpage-viewer
        Assert.Empty(snapshot.PoliciesFor(SourceHarness.WorkloadByName(snapshot, "bookinfo", "reviews-v1-5fd6d4f8f8-66j45")!)
            .Where(p => p.Namespace == "bookinfo"));

        var ratingsMtls = config.PeerAuthentications.Single(p => p.Name == "ratings-permissive-metrics");
        Assert.Equal(MtlsMode.Permissive, ratingsMtls.PortLevelMtls[9080]);
        Assert.Equal(MtlsMode.Strict, config.PeerAuthentications.Single(p => p.Name == "default").Mtls);
    }

    [System.Text.RegularExpressions.GeneratedRegex(@"Kubernetes Pod: (?:list|watch) failed(?: again)? \(attempt (\d+)\):.*; retrying in ([0-9:.]+)$")]
    private static partial System.Text.RegularExpressions.Regex RetryLine();

    private static List<(int, int)> PortList(IEnumerable<KeyValuePair<int, int>> ports) => [.. ports.Select(kv => (kv.Key, kv.Value)).Order()];
}

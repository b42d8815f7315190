using System.Text.Json.Nodes;
using Ambient.Config;
using Ambient.Discovery.Kubernetes;
using Ambient.Tests.Support;
using static Ambient.Tests.Kubernetes.KubeObjects;

namespace Ambient.Tests.Kubernetes;

/// <summary>How the daemon gets a source: kubeconfig loading, credentials on the wire, lifecycle, and the RBAC manifest.</summary>
public sealed class KubernetesEntryPointTests
{
    [Fact]
    public async Task Kubeconfig_IsLoaded_AndItsTokenIsSent()
    {
        await using var server = await FakeApiServer.StartAsync();
        server.Apply(Namespace("demo", ("istio.io/dataplane-mode", "ambient")));
        server.Apply(Pod("demo", "web", "10.1.0.5", "web"));
        var kubeconfig = Path.Combine(Path.GetTempPath(), $"ambient-kubeconfig-{Guid.NewGuid():N}");
        await File.WriteAllTextAsync(kubeconfig, $$"""
            apiVersion: v1
            kind: Config
            clusters:
            - name: fake
              cluster:
                server: {{server.Url}}
            - name: other
              cluster:
                server: http://127.0.0.1:1
            contexts:
            - name: fake
              context: { cluster: fake, user: daemon }
            - name: other
              context: { cluster: other, user: daemon }
            current-context: other
            users:
            - name: daemon
              user:
                token: s3cret-token
            """);
        try
        {
            var configuration = KubernetesSource.LoadConfiguration(kubeconfig, context: "fake");
            var store = new ConfigStore();
            await using var source = KubernetesSource.Create(configuration, store, new LogCapture().CreateLogger("kubernetes"), SourceHarness.FastOptions);
            Assert.Equal(new Uri(server.Url + "/"), source.Server);
            Assert.False(source.HasSynced);
            await source.StartAsync();
            await source.WaitForInitialSyncAsync().WaitAsync(SourceHarness.DefaultWait);
            Assert.True(source.HasSynced);
            Assert.Equal("spiffe://cluster.local/ns/demo/sa/web", Assert.Single(store.Current.Config.Workloads).Identity);
            Assert.All(server.Requests, r => Assert.Equal("Bearer s3cret-token", r.Authorization));
            Assert.All(server.Requests, r => Assert.StartsWith("ambient-daemon/", r.UserAgent));
        }
        finally
        {
            File.Delete(kubeconfig);
        }
    }

    [Fact]
    public async Task Options_TrustDomainAndClusterDomain_AreApplied()
    {
        var options = SourceHarness.FastOptions with { TrustDomain = "prod.example", ClusterDomain = "corp.local", Network = "net-a" };
        await using var h = await SourceHarness.StartAsync(server =>
        {
            server.Apply(Pod("demo", "web", "10.1.0.5", "web"));
            server.Apply(Service("demo", "web", "10.96.0.5", [("http", 80, 8080)], selector: [("app", "web")]));
        }, options);
        var config = h.Snapshot.Config;
        Assert.Equal("prod.example", config.TrustDomain);
        Assert.Equal("spiffe://prod.example/ns/demo/sa/web", config.Workloads[0].Identity);
        Assert.Equal("net-a", config.Workloads[0].Network);
        Assert.Equal("web.demo.svc.corp.local", config.Services[0].Hostname);
    }

    [Fact]
    public void InvalidOptions_AreRefusedAtCreate()
    {
        var configuration = new k8s.KubernetesClientConfiguration { Host = "http://127.0.0.1:1" };
        Assert.Throws<ArgumentOutOfRangeException>(() => KubernetesSource.Create(configuration, new ConfigStore(), options: new() { MaxBackoff = TimeSpan.FromMilliseconds(1) }));
        Assert.Throws<ArgumentException>(() => KubernetesSource.Create(configuration, new ConfigStore(), options: new() { TrustDomain = "Not A Domain" }));
    }

    [Fact]
    public async Task Dispose_StopsAllRequests_AndKeepsTheStore()
    {
        var h = await SourceHarness.StartAsync(server => server.Apply(Pod("demo", "web", "10.1.0.5")));
        var snapshot = h.Snapshot;
        await h.Source.DisposeAsync();
        var count = h.Server.Requests.Count;
        h.Server.Apply(Pod("demo", "other", "10.1.0.6"));
        await Task.Delay(200);
        Assert.Equal(count, h.Server.Requests.Count);
        Assert.Equal(0, h.Server.OpenWatches("pods"));
        Assert.Same(snapshot, h.Store.Current);
        await h.Source.DisposeAsync(); // idempotent
        await Assert.ThrowsAsync<ObjectDisposedException>(() => h.Source.StartAsync());
        await h.Server.DisposeAsync();
    }

    /// <summary>deploy/kubernetes/rbac.yaml grants get/list/watch on exactly the resources the source watches.</summary>
    [Fact]
    public void RbacManifest_GrantsExactlyTheWatchedResources()
    {
        var manifests = YamlJson.ParseAll(File.ReadAllText(Path.Combine(Config.ConfigTestHelpers.RepoRoot(), "deploy", "kubernetes", "rbac.yaml")));
        var role = manifests.Single(m => m["kind"]!.GetValue<string>() == "ClusterRole");
        var granted = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var rule in role["rules"]!.AsArray())
        {
            Assert.Equal(["get", "list", "watch"], rule!["verbs"]!.AsArray().Select(v => v!.GetValue<string>()).Order());
            foreach (var group in rule["apiGroups"]!.AsArray())
            {
                foreach (var resource in rule["resources"]!.AsArray()) granted.Add($"{group!.GetValue<string>()}/{resource!.GetValue<string>()}");
            }
        }
        var watched = new SortedSet<string>(KubernetesResource.All.Select(r => $"{r.Group}/{r.Plural}"), StringComparer.Ordinal);
        Assert.Equal(watched, granted);

        var binding = manifests.Single(m => m["kind"]!.GetValue<string>() == "ClusterRoleBinding");
        var account = manifests.Single(m => m["kind"]!.GetValue<string>() == "ServiceAccount");
        var subject = binding["subjects"]![0]!;
        Assert.Equal((account["metadata"]!["name"]!.GetValue<string>(), account["metadata"]!["namespace"]!.GetValue<string>()),
            (subject["name"]!.GetValue<string>(), subject["namespace"]!.GetValue<string>()));
        Assert.Equal(role["metadata"]!["name"]!.GetValue<string>(), binding["roleRef"]!["name"]!.GetValue<string>());
    }
}

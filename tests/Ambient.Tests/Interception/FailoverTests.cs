using System.Diagnostics;
using System.Net;
using Ambient.TestBed;

namespace Ambient.Tests.Interception;

/// <summary>A service with two endpoints keeps serving when one dies: new connections fail over at once.</summary>
[Collection("interception")]
public sealed class FailoverTests
{
    [Fact]
    public async Task Killing_one_of_two_endpoints_fails_new_connections_over_within_a_second()
    {
        Assert.True(Cluster.IsSupported(out var reason), reason);
        var dir = Directory.CreateTempSubdirectory("ambient-failover-").FullName;
        using var cluster = Cluster.Create(new ClusterOptions { Prefix = "ambf" });
        var node1 = cluster.AddNode("node1");
        var node2 = cluster.AddNode("node2");
        var sleep = node1.AddPod("default", "sleep", "sleep");
        var a = node2.AddPod("default", "echo-a", "echo");
        var b = node2.AddPod("default", "echo-b", "echo");
        var vip = IPAddress.Parse("10.96.0.20");
        using var nginxA = Nginx.Start(a, Path.Combine(dir, "a"));
        using var nginxB = Nginx.Start(b, Path.Combine(dir, "b"));
        await using var mesh = await AmbientMesh.StartAsync(cluster, AmbientBinaries.NextTo(AppContext.BaseDirectory),
            [new MeshService("echo", "default", vip, 80, 80, "echo", SelectorKey: "role")]);
        try
        {
            foreach (var pod in new[] { sleep, a, b })
                Assert.Equal(0, mesh.Add(pod).ExitCode);

            var seen = new HashSet<string>();
            for (int i = 0; i < 40 && seen.Count < 2; i++)
            {
                var r = sleep.Exec($"curl -sS --max-time 2 http://{vip}/");
                if (r.Succeeded) seen.Add(r.StdOut.Trim());
            }
            Assert.Equal(["hello from echo-a", "hello from echo-b"], seen.Order());

            nginxA.Stop();
            var killed = Stopwatch.StartNew();
            // From the kill on, every new connection must land on echo-b; allow the first second for failover.
            int failures = 0, late = 0;
            while (killed.Elapsed < TimeSpan.FromSeconds(3))
            {
                var r = sleep.Exec($"curl -sS --max-time 2 http://{vip}/");
                bool ok = r.Succeeded && r.StdOut.Trim() == "hello from echo-b";
                if (!ok) { failures++; if (killed.Elapsed > TimeSpan.FromSeconds(1)) late++; }
            }
            Assert.True(late == 0, $"{late} connections still failed more than 1 s after the kill ({failures} in all)");
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}

using Ambient.Harness.Beds;
using Ambient.Harness.Measure;
using Ambient.TestBed;

namespace Ambient.Harness;

/// <summary>Daemon start time and idle RSS, JIT and (if published) NativeAOT, alternating, on a node of an existing bed.</summary>
public static class StartupProbe
{
    public static async Task RunAsync(Bed bed, string? aotDaemon, int runs, ResultSet results, Action<string> log, CancellationToken cancel)
    {
        var dir = Path.Combine(bed.WorkDirectory, "startup-probe");
        Directory.CreateDirectory(dir);
        var config = Path.Combine(dir, "ambient.yaml");
        File.WriteAllText(config, AmbientMesh.Config(bed.Cluster, [], [], ""));
        var variants = new List<(string Name, string[] Command)> { ("daemon-jit", ["dotnet", AmbientBinaries.NextTo(AppContext.BaseDirectory).Daemon]) };
        if (aotDaemon is not null) variants.Add(("daemon-aot", [aotDaemon]));
        try
        {
            // Untimed first start: creates the mesh CA in the state directory, which later starts only load.
            await DaemonStartup.MeasureAsync(bed.Node1, variants[0].Command, config, dir, cancel);
            for (int run = 0; run < Math.Max(3, runs); run++)
                foreach (var (name, command) in run % 2 == 0 ? variants : Enumerable.Reverse(variants))
                {
                    var r = await DaemonStartup.MeasureAsync(bed.Node1, command, config, dir, cancel);
                    results.Add(name, Metrics.DaemonStartMs, r.StartMilliseconds);
                    results.Add(name, Metrics.DaemonIdleRss, r.IdleRssMiB);
                    log($"{name}: listening after {r.StartMilliseconds:N0} ms, {r.IdleRssMiB:N1} MiB idle");
                }
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            log($"start-up probe failed: {e.Message}");
            results.Note($"daemon start-up probe failed: {e.Message}");
        }
    }
}

using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Diagnosers;
using BenchmarkDotNet.Running;

namespace Ambient.Benchmarks;

/// <summary>
/// Micro-benchmarks of the mesh hot paths. Run everything:
///   dotnet run -c Release --project perf/Ambient.Benchmarks -- --filter '*'
/// and add --job short for a quick pass. Every benchmark reports allocations (MemoryDiagnoser).
/// </summary>
public static class Program
{
    public static int Main(string[] args)
    {
        var config = DefaultConfig.Instance
            .AddDiagnoser(MemoryDiagnoser.Default)
            .WithOptions(ConfigOptions.JoinSummary);
        // Results go to perf/BenchmarkDotNet.Artifacts (git-ignored) unless --artifacts says otherwise.
        if (!args.Contains("--artifacts") && FindRepositoryRoot() is { } root)
            config = config.WithArtifactsPath(Path.Combine(root, "perf", "BenchmarkDotNet.Artifacts"));
        var summaries = BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args, config);
        foreach (var summary in summaries)
            if (summary.HasCriticalValidationErrors || summary.Reports.Any(r => !r.Success))
                return 1;
        return 0;
    }

    private static string? FindRepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Ambient.sln")))
                return dir.FullName;
        return null;
    }
}

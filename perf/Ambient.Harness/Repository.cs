namespace Ambient.Harness;

/// <summary>The source tree this harness was built from, found by walking up from the binary to Ambient.sln.</summary>
public static class Repository
{
    public static string? Root
    {
        get
        {
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
                if (File.Exists(Path.Combine(dir.FullName, "Ambient.sln"))) return dir.FullName;
            return null;
        }
    }

    /// <summary>perf/results/&lt;yyyy-MM-dd&gt;-&lt;hostname&gt;/ in the repository (or the current folder outside one).</summary>
    public static string DefaultResultsDirectory() =>
        Path.Combine(Root is { } root ? Path.Combine(root, "perf", "results") : Directory.GetCurrentDirectory(),
            $"{DateTime.Now:yyyy-MM-dd}-{Environment.MachineName}");
}

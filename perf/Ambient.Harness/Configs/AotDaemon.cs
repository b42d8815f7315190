using System.Diagnostics;

namespace Ambient.Harness.Configs;

/// <summary>Publishes ambient-daemon with NativeAOT (needs clang and zlib1g-dev) for the ambient-aot configuration.</summary>
public static class AotDaemon
{
    /// <summary>The native executable, or null with the reason in <paramref name="failure"/>.</summary>
    public static string? Publish(string outputDirectory, out string? failure)
    {
        failure = null;
        var project = Repository.Root is { } root ? Path.Combine(root, "daemon", "Ambient.Daemon.csproj") : null;
        if (project is null || !File.Exists(project))
        {
            failure = "daemon/Ambient.Daemon.csproj not found above " + AppContext.BaseDirectory;
            return null;
        }
        var psi = new ProcessStartInfo(DotnetShim.Which("dotnet") ?? "dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in new[] { "publish", project, "-c", "Release", "-r", "linux-x64", "-p:PublishAot=true", "-o", outputDirectory, "--nologo", "-v", "quiet" })
            psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEnd();
        p.WaitForExit();
        var binary = Path.Combine(outputDirectory, "ambient-daemon");
        if (p.ExitCode == 0 && File.Exists(binary)) return binary;
        var output = (stdout.Result + stderr).Trim();
        failure = $"dotnet publish -p:PublishAot=true failed (exit {p.ExitCode}): {output[Math.Max(0, output.Length - 600)..]}";
        return null;
    }
}

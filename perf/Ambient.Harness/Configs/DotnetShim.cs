namespace Ambient.Harness.Configs;

/// <summary>
/// The test bed's <see cref="TestBed.AmbientMesh"/> starts every Ambient program as <c>dotnet &lt;file&gt;</c>, which
/// cannot run a NativeAOT executable. While active, this puts first on PATH a <c>dotnet</c> script that runs a
/// non-.dll file directly (exec, so the process id is the daemon's) and hands everything else to the real dotnet.
/// Child processes read PATH when they start, so the scope only needs to cover starting the mesh.
/// </summary>
public sealed class DotnetShim : IDisposable
{
    private readonly string? _previousPath;

    private DotnetShim(string directory, string realDotnet)
    {
        Directory.CreateDirectory(directory);
        var script = Path.Combine(directory, "dotnet");
        File.WriteAllText(script, $"""
            #!/bin/sh
            case "$1" in
              *.dll) exec {realDotnet} "$@" ;;
            esac
            exec "$@"

            """);
        File.SetUnixFileMode(script, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupRead | UnixFileMode.GroupExecute);
        _previousPath = Environment.GetEnvironmentVariable("PATH");
        Environment.SetEnvironmentVariable("PATH", directory + ":" + _previousPath);
    }

    public static DotnetShim Activate(string workDirectory) =>
        new(Path.Combine(workDirectory, "dotnet-shim"), Which("dotnet") ?? throw new InvalidOperationException("dotnet is not on PATH"));

    public static string? Which(string tool) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Select(dir => Path.Combine(dir, tool))
            .FirstOrDefault(File.Exists);

    public void Dispose() => Environment.SetEnvironmentVariable("PATH", _previousPath);
}

using System.Diagnostics;

namespace Ambient.Tests.Interception;

/// <summary>The deploy/local command a user runs: brings the two-node mesh up, sends requests through it, tears it down.</summary>
[Collection("interception")]
public sealed class LocalMeshCommandTests
{
    [Fact]
    public async Task Demo_brings_the_mesh_up_carries_requests_and_cleans_up()
    {
        var netnsBefore = ListNetns();
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "ambient-local.dll"));
        psi.ArgumentList.Add("--demo");
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        await p.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(90));
        var output = await stdout + await stderr;
        Assert.True(p.ExitCode == 0, output);
        Assert.Contains("demo passed", output);
        Assert.Contains("ok   sleep -> echo by VIP: hello from echo", output);
        Assert.Equal(netnsBefore.Where(n => n.StartsWith("ambl-")), ListNetns().Where(n => n.StartsWith("ambl-")));
    }

    private static string[] ListNetns() => Directory.Exists("/var/run/netns") ? Directory.GetFiles("/var/run/netns").Select(f => Path.GetFileName(f)).ToArray() : [];
}

using System.Diagnostics;
using Ambient.TestBed;

namespace Ambient.Harness.Measure;

/// <summary>
/// Start time and idle memory of one ambient-daemon, JIT against NativeAOT: started on a node with the mesh config
/// and an agent socket no agent uses (so it serves no pod), timed until it listens on that socket — what the test
/// bed waits for too — then left idle for two seconds before its RSS is read.
/// </summary>
public static class DaemonStartup
{
    public sealed record Result(double StartMilliseconds, double IdleRssMiB);

    /// <param name="command">The program and leading arguments: <c>dotnet ambient-daemon.dll</c> or the native file.</param>
    public static async Task<Result> MeasureAsync(Node node, IReadOnlyList<string> command, string configPath, string workDirectory, CancellationToken cancel)
    {
        var socket = Path.Combine(workDirectory, "startup-probe.sock");
        if (File.Exists(socket)) File.Delete(socket);
        var clock = Stopwatch.StartNew();
        using var daemon = node.Start(command[0], [.. command.Skip(1), "--config", configPath, "--node", node.Name, "--agent-socket", socket,
            "--state-dir", Path.Combine(workDirectory, "state"), "--readiness", $"{node.IP}:15121", "--log-format", "text", "--log-level", "warn"]);
        while (!File.Exists(socket))
        {
            if (daemon.HasExited) throw new InvalidOperationException($"daemon exited during start: {daemon.Output.Trim()}");
            if (clock.Elapsed > TimeSpan.FromSeconds(30)) throw new TimeoutException("daemon did not listen within 30 s");
            await Task.Delay(2, cancel);
        }
        double startMs = clock.Elapsed.TotalMilliseconds;
        await Task.Delay(2000, cancel);
        return new Result(startMs, ProcessStats.RssBytes([daemon.Id]) / (1024.0 * 1024));
    }
}

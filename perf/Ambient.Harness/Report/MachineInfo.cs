using System.Diagnostics;
using System.Runtime.InteropServices;

namespace Ambient.Harness.Report;

/// <summary>What the numbers were taken on: hardware, kernel, runtimes and the peers' versions, and how busy it was.</summary>
public sealed record MachineInfo(string Host, string Cpu, int Cores, string Kernel, string Dotnet, string Haproxy, string Iperf, string Nginx)
{
    public static MachineInfo Read() => new(
        Environment.MachineName,
        File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? "unknown",
        Environment.ProcessorCount,
        File.ReadAllText("/proc/sys/kernel/osrelease").Trim(),
        RuntimeInformation.FrameworkDescription,
        FirstLine("haproxy", "-v"),
        FirstLine("iperf3", "--version"),
        FirstLine("nginx", "-v"));

    /// <summary>The 1/5/15-minute load averages: other work on a shared machine shows here.</summary>
    public static string LoadAverage() => string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3));

    private static string FirstLine(string program, string arg)
    {
        try
        {
            var psi = new ProcessStartInfo(program, arg) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            using var p = Process.Start(psi)!;
            var text = p.StandardOutput.ReadToEnd() + p.StandardError.ReadToEnd(); // nginx -v writes to stderr
            p.WaitForExit();
            return text.Split('\n', StringSplitOptions.RemoveEmptyEntries).FirstOrDefault()?.Trim() ?? "unknown";
        }
        catch (System.ComponentModel.Win32Exception) { return "not installed"; }
    }
}

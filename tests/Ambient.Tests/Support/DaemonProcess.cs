using System.Diagnostics;
using System.Text;

namespace Ambient.Tests.Support;

/// <summary>The <c>ambient-daemon</c> binary run as a user runs it, with its output captured for assertions.</summary>
public sealed class DaemonProcess : IDisposable
{
    private readonly StringBuilder _output = new();

    private DaemonProcess(Process process)
    {
        Process = process;
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (_output) _output.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (_output) _output.AppendLine(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    public static string DllPath => Path.Combine(AppContext.BaseDirectory, "ambient-daemon.dll");

    public Process Process { get; }

    /// <summary>Everything written to stdout and stderr so far.</summary>
    public string Output { get { lock (_output) return _output.ToString(); } }

    public static DaemonProcess Start(params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(DllPath);
        foreach (var a in args) psi.ArgumentList.Add(a);
        return new DaemonProcess(Process.Start(psi)!);
    }

    public async Task WaitForOutputAsync(string text, TimeSpan? timeout = null)
    {
        var until = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(30));
        while (!Output.Contains(text, StringComparison.Ordinal))
        {
            if (Process.HasExited) throw new InvalidOperationException($"daemon exited ({Process.ExitCode}) before printing '{text}':\n{Output}");
            if (DateTime.UtcNow > until) throw new TimeoutException($"daemon did not print '{text}':\n{Output}");
            await Task.Delay(50);
        }
    }

    public void Signal(string signal) => System.Diagnostics.Process.Start("kill", $"-{signal} {Process.Id}")!.WaitForExit();

    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        await Process.WaitForExitAsync().WaitAsync(timeout);
        return Process.ExitCode;
    }

    public void Dispose()
    {
        if (!Process.HasExited)
        {
            try { Process.Kill(); Process.WaitForExit(5000); } catch (InvalidOperationException) { }
        }
        Process.Dispose();
    }
}

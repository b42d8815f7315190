using System.Diagnostics;
using System.Text;

namespace Ambient.TestBed;

/// <summary>
/// A program running inside a network namespace (see <see cref="NetworkNamespace.Start"/>). Collects its output;
/// <see cref="Dispose"/> stops it (SIGTERM, then SIGKILL to the whole tree).
/// </summary>
public sealed class NetnsProcess : IDisposable
{
    private const int MaxOutputChars = 1 << 20;
    private readonly StringBuilder _output = new();
    private readonly Action<string>? _onOutput;

    internal NetnsProcess(NetworkNamespace ns, ProcessStartInfo psi, Action<string>? onOutput)
    {
        Namespace = ns;
        _onOutput = onOutput;
        Process = new Process { StartInfo = psi, EnableRaisingEvents = true };
        Process.OutputDataReceived += (_, e) => Append(e.Data);
        Process.ErrorDataReceived += (_, e) => Append(e.Data);
        if (!Process.Start()) throw new TestBedException($"could not start {psi.FileName}");
        if (psi.RedirectStandardOutput) Process.BeginOutputReadLine();
        if (psi.RedirectStandardError) Process.BeginErrorReadLine();
    }

    /// <summary>The namespace it runs in.</summary>
    public NetworkNamespace Namespace { get; }

    /// <summary>The process (<c>ip netns exec</c> has exec'd the program, so this is the program itself).</summary>
    public Process Process { get; }

    public int Id => Process.Id;

    public bool HasExited
    {
        get
        {
            try { return Process.HasExited; }
            catch (InvalidOperationException) { return true; } // disposed: it is gone either way
        }
    }

    /// <summary>Stdout and stderr so far, line by line (the last 1 MB).</summary>
    public string Output { get { lock (_output) return _output.ToString(); } }

    /// <summary>Waits until <paramref name="text"/> appears in the output; false if the process exits or time runs out first.</summary>
    public async Task<bool> WaitForOutputAsync(string text, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            if (Output.Contains(text, StringComparison.Ordinal)) return true;
            if (HasExited)
            {
                await Task.Delay(50, cancellationToken); // let the last lines arrive
                return Output.Contains(text, StringComparison.Ordinal);
            }
            if (DateTime.UtcNow >= deadline) return false;
            await Task.Delay(20, cancellationToken);
        }
    }

    public Task WaitForExitAsync(CancellationToken cancellationToken = default) => Process.WaitForExitAsync(cancellationToken);

    /// <summary>Sends SIGTERM, waits up to <paramref name="grace"/> (default 2 s), then kills the whole process tree.</summary>
    public void Stop(TimeSpan? grace = null) => StopAll([this], grace ?? TimeSpan.FromSeconds(2));

    public void Dispose()
    {
        Stop();
        Process.Dispose();
    }

    /// <summary>SIGTERMs all at once, then waits for them together, then SIGKILLs the stragglers.</summary>
    internal static void StopAll(IEnumerable<NetnsProcess> processes, TimeSpan grace)
    {
        var running = processes.Where(p => !p.SafeHasExited()).ToList();
        foreach (var p in running) Native.kill(p.Process.Id, Native.SIGTERM);
        var deadline = DateTime.UtcNow + grace;
        foreach (var p in running)
        {
            var left = deadline - DateTime.UtcNow;
            if (left > TimeSpan.Zero) p.Process.WaitForExit(left);
            if (!p.SafeHasExited())
            {
                try { p.Process.Kill(entireProcessTree: true); } catch (Exception e) when (e is InvalidOperationException or System.ComponentModel.Win32Exception) { }
                p.Process.WaitForExit(5000);
            }
        }
    }

    private bool SafeHasExited()
    {
        try { return Process.HasExited; } catch (InvalidOperationException) { return true; }
    }

    private void Append(string? line)
    {
        if (line is null) return;
        lock (_output)
        {
            _output.Append(line).Append('\n');
            if (_output.Length > MaxOutputChars) _output.Remove(0, _output.Length - MaxOutputChars / 2);
        }
        try { _onOutput?.Invoke(line); } catch (Exception) { } // a logging callback must not kill the reader
    }

    public override string ToString() => $"{Process.StartInfo.ArgumentList.ElementAtOrDefault(3)} (pid {Id}) in {Namespace.NetnsName}";
}

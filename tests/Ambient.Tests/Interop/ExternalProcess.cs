using System.Diagnostics;
using System.Text;

namespace Ambient.Tests.Interop;

/// <summary>
/// An external program started by an interop test: stdout and stderr captured line by line, waits with
/// deadlines that report the captured output, and the whole process tree killed on dispose, whatever
/// happened to the test.
/// </summary>
public sealed class ExternalProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private readonly List<(Func<string, bool> Match, TaskCompletionSource<string> Found)> _waiters = new();
    private readonly TaskCompletionSource _stdoutClosed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _stderrClosed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Action<string>? _echo;
    private readonly string _name;
    private bool _disposed;

    private ExternalProcess(Process process, string name, Action<string>? echo)
    {
        _process = process;
        _name = name;
        _echo = echo;
    }

    /// <summary>Starts <paramref name="fileName"/> with the arguments passed verbatim (no shell).</summary>
    /// <param name="echo">Receives every output line as it arrives (e.g. the test's output helper).</param>
    public static ExternalProcess Start(string fileName, IEnumerable<string> arguments, Action<string>? echo = null, string? workingDirectory = null)
    {
        var info = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            CreateNoWindow = true,
            WorkingDirectory = workingDirectory ?? Environment.CurrentDirectory,
        };
        foreach (var a in arguments)
            info.ArgumentList.Add(a);
        var process = new Process { StartInfo = info, EnableRaisingEvents = true };
        var name = Path.GetFileName(fileName);
        var external = new ExternalProcess(process, name, echo);
        process.OutputDataReceived += (_, e) => external.OnLine("out", e.Data, external._stdoutClosed);
        process.ErrorDataReceived += (_, e) => external.OnLine("err", e.Data, external._stderrClosed);
        process.Start();
        external.CommandLine = fileName + " " + string.Join(' ', info.ArgumentList.Select(Quote));
        echo?.Invoke($"[{name}] started pid {process.Id}: {external.CommandLine}");
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        process.StandardInput.Close(); // nothing to say; EOF on stdin rather than a hang if it ever reads
        return external;
    }

    public string CommandLine { get; private set; } = "";
    public int Id => _process.Id;
    public bool HasExited => _process.HasExited;
    public int ExitCode => _process.ExitCode;

    /// <summary>Everything captured so far, each line prefixed with its stream.</summary>
    public string Output
    {
        get { lock (_output) return _output.ToString(); }
    }

    /// <summary>Only what the program wrote to stdout (no prefixes).</summary>
    public string StandardOutput
    {
        get
        {
            lock (_output)
            {
                return string.Join('\n', _output.ToString().Split('\n')
                    .Where(l => l.StartsWith("out| ", StringComparison.Ordinal)).Select(l => l[5..]));
            }
        }
    }

    /// <summary>Waits for an output line (either stream) matching <paramref name="match"/>; fails if the process exits first or time runs out.</summary>
    public async Task<string> WaitForLineAsync(Func<string, bool> match, TimeSpan timeout, string what)
    {
        var found = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_output)
        {
            foreach (var line in _output.ToString().Split('\n'))
            {
                if (line.Length > 5 && match(line[5..]))
                    return line[5..];
            }
            _waiters.Add((match, found));
        }
        var exited = _process.WaitForExitAsync();
        var winner = await Task.WhenAny(found.Task, exited, Task.Delay(timeout)).ConfigureAwait(false);
        if (winner == found.Task)
            return await found.Task.ConfigureAwait(false);
        if (winner == exited)
        {
            await DrainAsync().ConfigureAwait(false);
            if (found.Task.IsCompleted)
                return await found.Task.ConfigureAwait(false);
            throw new InvalidOperationException($"{_name} exited with code {_process.ExitCode} before {what}.\ncommand: {CommandLine}\noutput:\n{Output}");
        }
        throw new TimeoutException($"{_name} did not report {what} within {timeout.TotalSeconds:0.#} s.\ncommand: {CommandLine}\noutput:\n{Output}");
    }

    /// <summary>Waits for the process to exit by itself (killing it when time runs out) and returns its exit code.</summary>
    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(cts.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            Kill();
            throw new TimeoutException($"{_name} did not exit within {timeout.TotalSeconds:0.#} s; killed.\ncommand: {CommandLine}\noutput:\n{Output}");
        }
        await DrainAsync().ConfigureAwait(false);
        return _process.ExitCode;
    }

    private async Task DrainAsync()
    {
        // The exit event can precede the last redirected lines; both streams report their end with a null line.
        await Task.WhenAny(Task.WhenAll(_stdoutClosed.Task, _stderrClosed.Task), Task.Delay(2000)).ConfigureAwait(false);
    }

    private void OnLine(string stream, string? line, TaskCompletionSource closed)
    {
        if (line is null)
        {
            closed.TrySetResult();
            return;
        }
        List<TaskCompletionSource<string>>? hits = null;
        lock (_output)
        {
            _output.Append(stream).Append("| ").Append(line).Append('\n');
            for (int i = _waiters.Count - 1; i >= 0; i--)
            {
                if (_waiters[i].Match(line))
                {
                    (hits ??= new()).Add(_waiters[i].Found);
                    _waiters.RemoveAt(i);
                }
            }
        }
        try { _echo?.Invoke($"[{_name} {stream}] {line}"); } catch (InvalidOperationException) { /* test already finished */ }
        if (hits is not null)
            foreach (var h in hits)
                h.TrySetResult(line);
    }

    private void Kill()
    {
        try
        {
            if (!_process.HasExited)
                _process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException) { /* exited meanwhile */ }
        catch (System.ComponentModel.Win32Exception) { /* exited meanwhile */ }
    }

    public async ValueTask DisposeAsync()
    {
        if (_disposed)
            return;
        _disposed = true;
        Kill();
        using (var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5)))
        {
            try { await _process.WaitForExitAsync(cts.Token).ConfigureAwait(false); }
            catch (OperationCanceledException) { /* reported below by the leftover check, if any */ }
        }
        _process.Dispose();
    }

    private static string Quote(string a) => a.Length > 0 && !a.Any(c => char.IsWhiteSpace(c) || c is '"' or '\'' or ';' or '&' or '|') ? a : "'" + a.Replace("'", "'\\''") + "'";
}

namespace Ambient.TestBed;

/// <summary>A test-bed operation failed (a command exited non-zero, a namespace is gone, an option is invalid).</summary>
public class TestBedException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>A tool the operation needs (ip, tcpdump) is not installed.</summary>
public sealed class ToolMissingException(string tool, string hint)
    : TestBedException($"'{tool}' is not installed or not on PATH; {hint}")
{
    public string Tool { get; } = tool;
}

/// <summary>What a command run inside a namespace produced.</summary>
public sealed record ExecResult(int ExitCode, string StdOut, string StdErr)
{
    public bool Succeeded => ExitCode == 0;

    /// <summary>Returns this result, or throws a <see cref="TestBedException"/> quoting stderr if the command failed.</summary>
    public ExecResult ThrowIfFailed(string what) =>
        Succeeded ? this : throw new TestBedException($"{what} failed (exit {ExitCode}): {(StdErr.Trim().Length > 0 ? StdErr.Trim() : StdOut.Trim())}");
}

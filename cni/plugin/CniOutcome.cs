namespace Ambient.Cni;

/// <summary>What one invocation ends with: the text for stdout (possibly empty) and the exit code.</summary>
internal sealed record CniOutcome(int ExitCode, string Stdout)
{
    /// <summary>Success with nothing to print (DEL, CHECK, STATUS, GC).</summary>
    public static readonly CniOutcome Empty = new(0, "");

    public static CniOutcome Success(string stdout) => new(0, stdout);

    /// <summary>The spec's error result on stdout and exit code 1.</summary>
    public static CniOutcome Failure(CniError error) => new(1, CniJson.Error(error));
}

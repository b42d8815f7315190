using System.Diagnostics;

namespace Ambient.Tests.Ctl;

/// <summary>What one run of the <c>ambientctl</c> binary printed and how it exited.</summary>
public sealed record CtlResult(int ExitCode, string StdOut, string StdErr)
{
    public override string ToString() => $"exit {ExitCode}\n--- stdout\n{StdOut}--- stderr\n{StdErr}";
}

/// <summary>Runs the real <c>ambientctl</c> (built next to the tests) as a user runs it.</summary>
public static class CtlProcess
{
    public static string DllPath => Path.Combine(AppContext.BaseDirectory, "ambientctl.dll");

    /// <param name="adminFromEnvironment">AMBIENT_ADMIN for the run; never inherited, so the tests' own environment cannot leak in.</param>
    public static CtlResult Run(string[] args, string? adminFromEnvironment = null)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(DllPath);
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment.Remove(Ambient.Ctl.CommandLine.AdminEnvironmentVariable);
        if (adminFromEnvironment is not null) psi.Environment[Ambient.Ctl.CommandLine.AdminEnvironmentVariable] = adminFromEnvironment;
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEnd();
        if (!p.WaitForExit(30_000))
        {
            p.Kill();
            throw new TimeoutException($"ambientctl {string.Join(' ', args)} did not exit");
        }
        return new CtlResult(p.ExitCode, stdout.Result, stderr);
    }

    /// <summary>The lines of a table, split into cells on runs of 2+ spaces (cells themselves hold single spaces).</summary>
    public static List<string[]> TableRows(string text) =>
        text.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(line => System.Text.RegularExpressions.Regex.Split(line, " {2,}"))
            .ToList();
}

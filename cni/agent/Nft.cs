using System.Diagnostics;

namespace Ambient.Cni.Agent;

/// <summary>Runs nft inside a network namespace (by its file path) with a ruleset on stdin.</summary>
public static class Nft
{
    public static string NftPath { get; set; } = File.Exists("/usr/sbin/nft") ? "/usr/sbin/nft" : "nft";

    /// <summary>Applies a ruleset atomically (`nft -f -`); throws with nft's message on failure.</summary>
    public static void Apply(string? netnsPath, string ruleset)
    {
        var (code, _, err) = Run(netnsPath, ["-f", "-"], ruleset);
        if (code != 0)
            throw new IOException($"nft in {netnsPath ?? "the host namespace"} failed: {err.Trim()}");
    }

    public static string List(string? netnsPath)
    {
        var (code, output, err) = Run(netnsPath, ["list", "ruleset"], null);
        return code == 0 ? output : throw new IOException($"nft list ruleset in {netnsPath} failed: {err.Trim()}");
    }

    public static bool HasTable(string? netnsPath, string family, string table)
        => Run(netnsPath, ["list", "table", family, table], null).Code == 0;

    private static (int Code, string Out, string Err) Run(string? netnsPath, string[] args, string? stdin)
    {
        var psi = new ProcessStartInfo(netnsPath is null ? NftPath : "nsenter")
        {
            RedirectStandardInput = stdin is not null,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        if (netnsPath is not null)
        {
            psi.ArgumentList.Add($"--net={netnsPath}");
            psi.ArgumentList.Add(NftPath);
        }
        foreach (var a in args)
            psi.ArgumentList.Add(a);
        using var p = Process.Start(psi) ?? throw new IOException("cannot start nft");
        if (stdin is not null)
        {
            p.StandardInput.Write(stdin);
            p.StandardInput.Close();
        }
        var output = p.StandardOutput.ReadToEndAsync();
        var error = p.StandardError.ReadToEnd();
        if (!p.WaitForExit(10_000))
        {
            p.Kill();
            throw new IOException("nft did not finish within 10 s");
        }
        return (p.ExitCode, output.Result, error);
    }
}

using System.Diagnostics;
using System.Text.Json.Nodes;

namespace Ambient.Tests.Cni;

/// <summary>Runs the built plugin (<c>ambient-cni.dll</c>, copied next to the tests) as a runtime would.</summary>
internal static class PluginProcess
{
    public static string DllPath => Path.Combine(AppContext.BaseDirectory, "ambient-cni.dll");

    public static async Task<PluginRun> RunAsync(IReadOnlyDictionary<string, string?> env, string? stdin, params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        psi.ArgumentList.Add(DllPath);
        foreach (var a in args) psi.ArgumentList.Add(a);
        foreach (var name in psi.Environment.Keys.Where(k => k.StartsWith("CNI_", StringComparison.Ordinal)).ToList())
            psi.Environment.Remove(name);
        foreach (var (name, value) in env) psi.Environment[name] = value;

        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        try
        {
            if (stdin is not null) await p.StandardInput.WriteAsync(stdin);
            p.StandardInput.Close();
        }
        catch (IOException) { } // the plugin exited without reading stdin (VERSION, or an environment error)
        await p.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
        return new PluginRun(p.ExitCode, await stdout, await stderr);
    }
}

internal sealed record PluginRun(int ExitCode, string Stdout, string Stderr)
{
    public JsonObject Json => JsonNode.Parse(Stdout)?.AsObject() ?? throw new InvalidOperationException("stdout is empty: " + Stderr);

    /// <summary>The error code, asserting stdout is the spec's error result and the exit code is non-zero.</summary>
    public int ErrorCode()
    {
        Assert.NotEqual(0, ExitCode);
        var json = Json;
        Assert.Subset(new HashSet<string> { "cniVersion", "code", "msg", "details" }, json.Select(p => p.Key).ToHashSet());
        return json["code"]!.GetValue<int>();
    }

    public string Msg => Json["msg"]!.GetValue<string>();

    public override string ToString() => $"exit {ExitCode}\nstdout: {Stdout}\nstderr: {Stderr}";
}

using System.Net;
using System.Text.Json;
using Ambient.TestBed;

namespace Ambient.Harness.Load;

/// <summary>Bulk throughput with iperf3 from the client pod (its JSON report, -J, is parsed).</summary>
public static class Iperf
{
    public sealed record Result(double BitsPerSecond, long Bytes);

    /// <summary>Runs iperf3 for <paramref name="seconds"/> after one omitted second of warm-up (-O 1, TCP slow start).</summary>
    public static Result Run(Pod client, IPEndPoint target, int streams, int seconds)
    {
        var exec = client.Exec("iperf3", ["-c", target.Address.ToString(), "-p", target.Port.ToString(), "-t", seconds.ToString(),
            "-O", "1", "-P", streams.ToString(), "-J"], timeout: TimeSpan.FromSeconds(seconds + 30));
        using var json = TryParse(exec.StdOut);
        if (json is null) throw new InvalidOperationException($"iperf3 to {target} failed (exit {exec.ExitCode}): {exec.StdErr.Trim()}");
        var root = json.RootElement;
        if (root.TryGetProperty("error", out var error)) throw new InvalidOperationException($"iperf3 to {target}: {error.GetString()}");
        var received = root.GetProperty("end").GetProperty("sum_received");
        return new Result(received.GetProperty("bits_per_second").GetDouble(), (long)received.GetProperty("bytes").GetDouble());
    }

    private static JsonDocument? TryParse(string text)
    {
        try { return JsonDocument.Parse(text); }
        catch (JsonException) { return null; }
    }
}

using System.Net;
using Ambient.TestBed;

namespace Ambient.Harness.Load;

/// <summary>The protocols of the full-load test, as the client speaks them to the proxy.</summary>
public enum WireProtocol { Http1, Http2 }

public static class WireProtocols
{
    public static readonly IReadOnlyList<WireProtocol> All = [WireProtocol.Http1, WireProtocol.Http2];

    public static string Label(this WireProtocol p) => p == WireProtocol.Http2 ? "HTTP/2" : "HTTP/1.1";

    /// <summary>Short form for metric keys.</summary>
    public static string Key(this WireProtocol p) => p == WireProtocol.Http2 ? "h2" : "h1";

    /// <summary>What h2load prints as "Application protocol" when it speaks <paramref name="p"/> over plaintext.</summary>
    public static string H2loadName(this WireProtocol p) => p == WireProtocol.Http2 ? "h2c" : "http/1.1";
}

/// <summary>
/// Closed-loop full load with h2load (nghttp2-client) from the client pod: a fixed number of connections, each
/// keeping a fixed number of requests in flight (HTTP/2 streams; 1 for HTTP/1.1, keep-alive without pipelining),
/// for a fixed time. Gives the most requests per second a path carries and the request times at that load.
/// HTTP/2 is h2c with prior knowledge (h2load's default for http:// URLs), as a mesh-internal client would speak.
/// </summary>
public static class H2load
{
    /// <summary>What one run measured: h2load's counters and, if it was asked for, its per-request log.</summary>
    public sealed record Result(H2loadSummary Summary, H2loadRequestLog? Log)
    {
        public double Percentile(double p) => Log?.Percentile(p) ?? double.NaN;

        /// <summary>Why the run does not count as carrying <paramref name="protocol"/> traffic, or null if it does.</summary>
        public string? Problem(WireProtocol protocol, int seconds) => Summary.Problem(protocol.H2loadName()) ?? Log?.Problem(seconds);
    }

    /// <param name="logPath">Where h2load writes one line per request (needed for percentiles); null for a warm-up.</param>
    public static Result Run(Pod client, IPEndPoint target, WireProtocol protocol, int connections, int streamsPerConnection,
        int seconds, string? logPath)
    {
        List<string> args = ["-D", seconds.ToString(), "-c", connections.ToString(), "-m", streamsPerConnection.ToString(), "-t", "1"];
        if (protocol == WireProtocol.Http1) args.Add("--h1");
        if (logPath is not null)
        {
            File.Delete(logPath);
            args.AddRange(["--log-file", logPath]);
        }
        args.Add($"http://{target}/");
        var exec = client.Exec("h2load", args, timeout: TimeSpan.FromSeconds(seconds + 30));
        H2loadSummary summary;
        try { summary = H2loadOutput.ParseSummary(exec.StdOut); }
        catch (FormatException e)
        {
            throw new InvalidOperationException($"h2load to {target} (exit {exec.ExitCode}): {e.Message} {exec.StdErr.Trim()}");
        }
        var log = logPath is null ? null : File.Exists(logPath) ? H2loadOutput.ParseRequestLog(File.ReadLines(logPath)) : new H2loadRequestLog([], 0, 0);
        return new Result(summary, log);
    }
}

using System.Globalization;
using System.Text.RegularExpressions;

namespace Ambient.Harness.Load;

/// <summary>
/// The counters of one h2load run, as its summary on stdout prints them. h2load exits 0 whatever happened to the
/// requests (refused connections, protocol errors, 5xx answers), so these counters are the only verdict.
/// </summary>
/// <param name="Protocol">What h2load says it spoke (<c>h2c</c>, <c>http/1.1</c>); null if no connection got that far.</param>
/// <param name="DonePerSecond">h2load's own req/s: requests done (any status, failed ones too) per second of the main duration.</param>
/// <param name="Succeeded">Requests answered 2xx or 3xx (h2load's "succeeded").</param>
/// <param name="Failed">Requests that did not succeed: errors, resets and 4xx/5xx answers alike.</param>
/// <param name="Errored">Requests lost to connection or protocol errors (a subset of <paramref name="Failed"/>).</param>
/// <param name="TimedOut">Requests abandoned on a timeout (h2load counts them in <paramref name="Failed"/> too).</param>
public sealed record H2loadSummary(
    string? Protocol, double DonePerSecond, long Total, long Started, long Done, long Succeeded, long Failed, long Errored, long TimedOut,
    long Status2xx, long Status3xx, long Status4xx, long Status5xx)
{
    /// <summary>
    /// Successful requests per second: h2load's rate counts failed requests too (a proxy answering 503 quickly would
    /// look fast), so it is scaled down to the share that succeeded, over h2load's own measured duration.
    /// </summary>
    public double SucceededPerSecond => Done == 0 ? 0 : DonePerSecond * Succeeded / Done;

    /// <summary>
    /// Why this run does not count as carrying traffic over <paramref name="expectedProtocol"/>, or null if it does:
    /// nothing succeeded, or any request failed, errored or timed out, or another protocol was spoken.
    /// </summary>
    public string? Problem(string expectedProtocol)
    {
        if (Protocol is not null && Protocol != expectedProtocol) return $"spoke {Protocol}, not {expectedProtocol}";
        if (Succeeded == 0) return Done == 0 && Failed == 0 ? "no request completed" : $"no request succeeded ({Describe()})";
        if (Failed + Errored + TimedOut > 0) return $"requests failed ({Describe()})";
        return null;
    }

    private string Describe() =>
        $"{Total:N0} total, {Done:N0} done, {Succeeded:N0} succeeded, {Failed:N0} failed, {Errored:N0} errored, {TimedOut:N0} timeout; status {Status2xx:N0} 2xx, {Status3xx:N0} 3xx, {Status4xx:N0} 4xx, {Status5xx:N0} 5xx";
}

/// <summary>
/// h2load's per-request log of one run: every request time, and when the first request started and the last
/// one ended (µs since the epoch).
/// </summary>
/// <param name="SortedMicros">Request times in microseconds, ascending.</param>
public sealed record H2loadRequestLog(long[] SortedMicros, long FirstStartMicros, long LastEndMicros)
{
    /// <summary>Below this share of the run with requests completing, the path is taken to have stopped.</summary>
    public const double MinActiveShare = 0.9;

    /// <summary>Seconds from the first request's start to the last one's end.</summary>
    public double ActiveSeconds => SortedMicros.Length == 0 ? 0 : (LastEndMicros - FirstStartMicros) / 1e6;

    public double Percentile(double p) => H2loadOutput.Percentile(SortedMicros, p);

    /// <summary>
    /// Why this log shows a path that stopped carrying requests, or null. In a timed run (-D) h2load counts
    /// requests lost on a connection the far side closed or reset neither as failed nor as errored — it just
    /// stops that client — so a proxy that dies or drains mid-run shows only as requests ending early.
    /// </summary>
    public string? Problem(double durationSeconds)
    {
        if (SortedMicros.Length == 0) return "no request in the log";
        if (ActiveSeconds < MinActiveShare * durationSeconds)
            return $"requests stopped {ActiveSeconds:N1} s into the {durationSeconds:N0} s run (connections closed or stalled; h2load does not count those requests as failed)";
        return null;
    }
}

/// <summary>
/// Parses what h2load (nghttp2) writes: the summary on stdout and the per-request <c>--log-file</c>. Pure text in,
/// numbers out, so it is unit-tested on captured output (tests/Ambient.Tests/Perf).
/// </summary>
public static partial class H2loadOutput
{
    [GeneratedRegex(@"^finished in \S+, (?<rps>[0-9.]+) req/s", RegexOptions.Multiline)]
    private static partial Regex FinishedLine();

    [GeneratedRegex(@"^requests: (?<total>\d+) total, (?<started>\d+) started, (?<done>\d+) done, (?<ok>\d+) succeeded, (?<failed>\d+) failed, (?<errored>\d+) errored, (?<timeout>\d+) timeout", RegexOptions.Multiline)]
    private static partial Regex RequestsLine();

    [GeneratedRegex(@"^status codes: (?<s2>\d+) 2xx, (?<s3>\d+) 3xx, (?<s4>\d+) 4xx, (?<s5>\d+) 5xx", RegexOptions.Multiline)]
    private static partial Regex StatusLine();

    [GeneratedRegex(@"^Application protocol: (?<proto>\S+)", RegexOptions.Multiline)]
    private static partial Regex ProtocolLine();

    /// <summary>The summary of one run. Throws <see cref="FormatException"/> if the output has none (h2load did not run to the end).</summary>
    public static H2loadSummary ParseSummary(string stdout)
    {
        var finished = FinishedLine().Match(stdout);
        var requests = RequestsLine().Match(stdout);
        var status = StatusLine().Match(stdout);
        if (!finished.Success || !requests.Success || !status.Success)
            throw new FormatException("no h2load summary (finished / requests / status codes lines) in the output: " + Tail(stdout));
        var protocol = ProtocolLine().Match(stdout);
        long N(Match m, string group) => long.Parse(m.Groups[group].Value, CultureInfo.InvariantCulture);
        return new H2loadSummary(
            protocol.Success ? protocol.Groups["proto"].Value : null,
            double.Parse(finished.Groups["rps"].Value, CultureInfo.InvariantCulture),
            N(requests, "total"), N(requests, "started"), N(requests, "done"), N(requests, "ok"), N(requests, "failed"), N(requests, "errored"), N(requests, "timeout"),
            N(status, "s2"), N(status, "s3"), N(status, "s4"), N(status, "s5"));
    }

    /// <summary>
    /// h2load's <c>--log-file</c>: one line per request done in the main duration (warm-up excluded), tab-separated
    /// start time (µs since the epoch), HTTP status, microseconds from sending the request to the end of the
    /// response. The status column is not filtered on: a run with failed requests is rejected as a whole
    /// (<see cref="H2loadSummary.Problem"/>), and h2load occasionally logs one request with status 0 (seen on the
    /// first request of a run that had a warm-up) while counting it as a 2xx.
    /// </summary>
    public static H2loadRequestLog ParseRequestLog(IEnumerable<string> logLines)
    {
        var times = new List<long>();
        long firstStart = long.MaxValue, lastEnd = long.MinValue;
        foreach (var line in logLines)
        {
            if (line.Length == 0) continue;
            var columns = line.Split('\t');
            if (columns.Length < 3
                || !long.TryParse(columns[0], NumberStyles.None, CultureInfo.InvariantCulture, out long start)
                || !long.TryParse(columns[2], NumberStyles.None, CultureInfo.InvariantCulture, out long micros))
                throw new FormatException($"not an h2load log line: '{line}'");
            times.Add(micros);
            firstStart = Math.Min(firstStart, start);
            lastEnd = Math.Max(lastEnd, start + micros);
        }
        var sorted = times.ToArray();
        Array.Sort(sorted);
        return sorted.Length == 0 ? new H2loadRequestLog([], 0, 0) : new H2loadRequestLog(sorted, firstStart, lastEnd);
    }

    /// <summary>
    /// The value at percentile <paramref name="p"/> (0–100) of ascending <paramref name="sorted"/> values by nearest
    /// rank — the smallest value with at least p % of all values at or below it, as HdrHistogram reports; NaN if empty.
    /// </summary>
    public static double Percentile(IReadOnlyList<long> sorted, double p)
    {
        if (sorted.Count == 0) return double.NaN;
        int rank = (int)Math.Ceiling(p / 100 * sorted.Count);
        return sorted[Math.Clamp(rank - 1, 0, sorted.Count - 1)];
    }

    private static string Tail(string text)
    {
        text = text.Trim();
        return text.Length <= 300 ? text : "…" + text[^300..];
    }
}

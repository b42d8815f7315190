using HdrHistogram;

namespace Ambient.Harness.Load;

/// <summary>What one constant-rate test measured. Latencies in microseconds from each request's due time.</summary>
/// <param name="AllResponses">Responses including the warm-up's: what the proxies' CPU time over the test paid for.</param>
public sealed record LatencyResult(int TargetRate, double AchievedRate, long Completed, long AllResponses, long Errors, long Unfinished, HistogramBase Histogram)
{
    public double Percentile(double p) => Histogram.TotalCount == 0 ? double.NaN : Histogram.GetValueAtPercentile(p);

    public override string ToString() =>
        $"{AchievedRate:N0}/{TargetRate:N0} rps, p50 {Percentile(50):N0} µs, p99 {Percentile(99):N0} µs, p99.9 {Percentile(99.9):N0} µs" +
        (Errors + Unfinished > 0 ? $", {Errors} errors, {Unfinished} unfinished" : "");
}

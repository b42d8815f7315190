using Ambient.Harness.Configs;
using Ambient.Harness.Measure;

namespace Ambient.Harness.Report;

/// <summary>Writes report.md, the PNG plots it links and samples.csv (raw values) into the results folder.</summary>
public static class ReportWriter
{
    public static string Write(string directory, ResultSet results, IReadOnlyList<Configuration> configs, HarnessOptions options,
        MachineInfo machine, string loadBefore, string loadAfter, string commandLine, TimeSpan elapsed)
    {
        Directory.CreateDirectory(directory);
        var names = configs.Select(c => c.Name).ToList();
        var proxies = configs.Where(c => c.Name != "direct").Select(c => c.Name).ToList();
        Plots.GroupedBars(Path.Combine(directory, "throughput.png"), "iperf3 throughput (median, whiskers min–max)", "Gbit/s", names,
            [new("1 stream", Metrics.Throughput1), new("8 streams", Metrics.Throughput8)], results);
        foreach (var rate in options.Rates)
            Plots.GroupedBars(Path.Combine(directory, $"latency-{rate}.png"), $"Latency at a constant {rate:N0} req/s (log scale)", "µs from scheduled send",
                names, Metrics.Percentiles.Select(p => new Plots.Group($"p{p}", Metrics.Latency(rate, p))).ToList(), results, logScale: true);
        Plots.GroupedBars(Path.Combine(directory, "cpu.png"), "Proxy CPU per 1,000 requests / connections", "CPU ms", proxies,
            [.. options.Rates.Select(r => new Plots.Group($"requests at {r:N0} rps", Metrics.CpuPerThousandRequests(r))),
             new("new connections", Metrics.CpuPerThousandConnections)], results);
        Plots.GroupedBars(Path.Combine(directory, "connections.png"), "New connections per second", "conn/s", names,
            [new("connect, GET, close", Metrics.ConnectionRate)], results);
        // The raw values behind every median, in run order, so anyone can recompute or re-plot them.
        File.WriteAllLines(Path.Combine(directory, "samples.csv"),
            ["config,metric,values (one per run, run order)", .. results.All.Select(s =>
                $"{s.Config},{s.Metric},{string.Join(' ', s.Values.Select(v => v.ToString("G6", System.Globalization.CultureInfo.InvariantCulture)))}")]);
        var path = Path.Combine(directory, "report.md");
        File.WriteAllText(path, new MarkdownReport(results, configs, options).Build(machine, loadBefore, loadAfter, commandLine, elapsed));
        return path;
    }
}

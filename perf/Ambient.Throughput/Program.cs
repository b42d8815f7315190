using Ambient.Observability;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using Ambient.Daemon;
using Ambient.Throughput;

const string Usage = """
    ambient-throughput — loopback throughput and latency: direct TCP vs. the Ambient mesh path.

    Starts, in this one process, a TCP sink and two real node daemons (node-a serving workload "client",
    node-b serving workload "server", each on its own 127.77.x.y address), then measures each path:
      direct   client → sink
      ambient  client → SOCKS5 port of daemon A → HBONE (HTTP/2 CONNECT over mTLS 1.3) → daemon B → sink
      hbone    client → TCP listener → HboneClient ⇒ HboneServer → sink (the library alone, no daemon)
    Measurements: single-stream throughput, N parallel streams, 1 KB ping-pong latency (p50/p99) and
    sequential short connections per second. Prints a Markdown report on stdout, progress on stderr.

    Usage: ambient-throughput [options]

    Options:
      --seconds N              Duration of each measurement. Default: 5
      --quick                  1 s per measurement (CI smoke test); same as --seconds 1
      --streams N              Connections in the parallel throughput test. Default: 8
      --paths LIST             Which paths besides direct TCP, comma-separated: ambient (the two daemons,
                               via SOCKS5), hbone (HboneClient → HboneServer in-process, no daemon:
                               the mesh library's share of the cost). Default: ambient,hbone
      --wait-idle N            Before each measurement wait up to N s for the machine to be idle (for
                               shared machines; other processes' CPU is reported either way). Default: 0
      --alloc-profile          Also report which types the allocations went to (sampled GC events)
      --daemon-log-level L     Daemon log level: trace, debug, info, warn, error. Default: info (the
                               per-connection access log is on, as in production); logs go to a file
      -h, --help               Show this help.

    Exit codes: 0 all measurements ran, 1 a measurement failed, 2 bad command line.
    """;

double seconds = 5;
int streams = 8;
string logLevel = "info";
bool allocProfile = false;
double waitIdle = 0;
var extraPaths = new List<string> { "ambient", "hbone" };
try
{
    for (int i = 0; i < args.Length; i++)
    {
        string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
        switch (args[i])
        {
            case "-h" or "--help":
                Console.WriteLine(Usage);
                return 0;
            case "--quick":
                seconds = 1;
                break;
            case "--seconds":
                var s = Value();
                if (!double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out seconds) || seconds <= 0 || seconds > 600)
                    throw new ArgumentException($"--seconds '{s}' is not a number of seconds in (0, 600]");
                break;
            case "--paths":
                var list = Value();
                extraPaths = [.. list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(p => p.ToLowerInvariant())];
                if (extraPaths.Any(p => p is not ("ambient" or "hbone")))
                    throw new ArgumentException($"--paths '{list}' may list only ambient and hbone");
                break;
            case "--wait-idle":
                var w = Value();
                if (!double.TryParse(w, NumberStyles.Float, CultureInfo.InvariantCulture, out waitIdle) || waitIdle < 0 || waitIdle > 3600)
                    throw new ArgumentException($"--wait-idle '{w}' is not a number of seconds in [0, 3600]");
                break;
            case "--alloc-profile":
                allocProfile = true;
                break;
            case "--streams":
                var n = Value();
                if (!int.TryParse(n, out streams) || streams < 1 || streams > 256)
                    throw new ArgumentException($"--streams '{n}' is not a count in 1..256");
                break;
            case "--daemon-log-level":
                logLevel = Value().ToLowerInvariant();
                if (logLevel is not ("trace" or "debug" or "info" or "warn" or "error"))
                    throw new ArgumentException($"--daemon-log-level '{logLevel}' is not one of trace, debug, info, warn, error");
                break;
            default:
                throw new ArgumentException($"unknown option '{args[i]}' (see --help)");
        }
    }
}
catch (ArgumentException e)
{
    Console.Error.WriteLine($"ambient-throughput: {e.Message}");
    return 2;
}

var duration = TimeSpan.FromSeconds(seconds);
var warmUp = TimeSpan.FromSeconds(Math.Min(0.5, seconds / 2));
var report = Console.Out;
var progress = Console.Error;

// Everything the daemons log goes to a file: their console logger writes to Console.Out, captured when the
// logger factory is created, so Console.Out points at the file from here on and the report keeps the real stdout.
var logPath = Path.Combine(Path.GetTempPath(), "ambient-throughput-daemons.log");
var logFile = new StreamWriter(logPath, append: false, Encoding.UTF8) { AutoFlush = false };
Console.SetOut(TextWriter.Synchronized(logFile));

// Nothing here may hang a CI job: give up well after the longest possible run.
var budget = TimeSpan.FromSeconds(60 + 4 * (1 + extraPaths.Count) * (seconds + warmUp.TotalSeconds + 15 + waitIdle));
using var watchdog = new Timer(_ =>
{
    progress.WriteLine($"ambient-throughput: gave up after {budget.TotalSeconds:0} s (something hung)");
    Environment.Exit(1);
}, null, budget, Timeout.InfiniteTimeSpan);

using var logs = Logging.Create(logLevel, "json");
progress.WriteLine("starting two node daemons and the sink…");
TwoNodeMesh startedMesh;
try
{
    startedMesh = await TwoNodeMesh.StartAsync(logs, progress);
}
catch (InvalidOperationException e)
{
    progress.WriteLine($"ambient-throughput: {e.Message}: {e.InnerException?.Message}");
    return 1;
}
await using var mesh = startedMesh;
await using var sink = new Sink(mesh.ServerAddress);
await using var pair = extraPaths.Contains("hbone") ? new HbonePair(mesh.ServerAddress, sink.EndPoint) : null;
ClientPath direct = new DirectPath(sink.EndPoint);
var paths = new List<ClientPath> { direct };
if (extraPaths.Contains("ambient"))
    paths.Add(new Socks5Path(mesh.Socks5EndPoint, sink.EndPoint));
if (pair is not null)
    paths.Add(new HbonePairPath(pair.OutboundEndPoint));

var samples = new long[1 << 21];
using var sampler = allocProfile ? new AllocationSampler() : null;
var profiles = new List<(string Test, string Path, IReadOnlyList<(string Type, long Bytes)> Top, long Total)>();
var results = new Dictionary<(string Test, ClientPath Path), (object Result, Cost Cost)>();
var failures = new List<string>();
double maxIdleCpu = 0;

await Run("throughput-1", p => Scenarios.ThroughputAsync(p, 1, duration, Deadline()), p => Scenarios.ThroughputAsync(p, 1, warmUp, Deadline()));
await Run($"throughput-{streams}", p => Scenarios.ThroughputAsync(p, streams, duration, Deadline()), p => Scenarios.ThroughputAsync(p, streams, warmUp, Deadline()));
await Run("ping-pong", p => Scenarios.PingPongAsync(p, duration, samples, Deadline()), p => Scenarios.PingPongAsync(p, warmUp, samples, Deadline()));
await Run("connect", p => Scenarios.ConnectAsync(p, duration, samples, Deadline()), p => Scenarios.ConnectAsync(p, warmUp, samples, Deadline()));

if (sink.Errors > 0)
    failures.Add($"the sink saw {sink.Errors} failed connections");

PrintReport();
await logFile.FlushAsync();
progress.WriteLine($"daemon logs: {logPath}");
return failures.Count == 0 ? 0 : 1;

CancellationToken Deadline() => new CancellationTokenSource(duration + TimeSpan.FromSeconds(30)).Token;

async Task Run<T>(string test, Func<ClientPath, Task<T>> measure, Func<ClientPath, Task<T>> warm) where T : notnull
{
    foreach (var path in paths)
    {
        progress.WriteLine($"{test,-14} {path.Name} …");
        try
        {
            if (waitIdle > 0)
            {
                double busy = await MachineCpu.WaitForIdleAsync(TimeSpan.FromSeconds(waitIdle));
                if (busy > 0.05)
                    progress.WriteLine($"  machine still {busy:P0} busy after {waitIdle:0} s; measuring anyway");
            }
            // What this process burns with nothing to do (leftovers of the previous measurement would show here).
            var self = System.Diagnostics.Process.GetCurrentProcess();
            var idle0 = self.TotalProcessorTime;
            await Task.Delay(500);
            self.Refresh();
            double idleCpu = (self.TotalProcessorTime - idle0).TotalSeconds / 0.5;
            maxIdleCpu = Math.Max(maxIdleCpu, idleCpu);
            if (idleCpu > 0.05)
                progress.WriteLine($"  this process used {idleCpu:P0} of a core while idle before the measurement");
            await warm(path);
            T result = default!;
            sampler?.Start();
            var cost = await Cost.MeasureAsync(async () => result = await measure(path));
            if (sampler is not null)
                profiles.Add((test, path.Name, sampler.Stop(), cost.AllocatedBytes));
            results[(test, path)] = (result, cost);
        }
        catch (Exception e)
        {
            failures.Add($"{test} via {path.Name}: {e.GetType().Name}: {e.Message}");
            progress.WriteLine($"  failed: {e.Message}");
        }
    }
}

void PrintReport()
{
    string cpu = !File.Exists("/proc/cpuinfo") ? RuntimeInformation.ProcessArchitecture.ToString() : File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? "unknown CPU";
    string kernel = File.Exists("/proc/sys/kernel/osrelease") ? File.ReadAllText("/proc/sys/kernel/osrelease").Trim() : RuntimeInformation.OSDescription;
    report.WriteLine("## ambient-throughput: direct TCP vs. Ambient (loopback, one process)");
    report.WriteLine();
    report.WriteLine($"- Machine: {cpu}, {Environment.ProcessorCount} cores; Linux {kernel}; {RuntimeInformation.FrameworkDescription}");
    report.WriteLine($"- Each measurement {seconds:0.##} s after a {warmUp.TotalSeconds:0.##} s warm-up. Client, sink and both daemons run in this one process and share its cores.");
    if (extraPaths.Contains("ambient"))
        report.WriteLine($"- Ambient: client → SOCKS5 (daemon A, node-a, {mesh.ClientAddress}) → HBONE: HTTP/2 CONNECT over mTLS 1.3 → daemon B (node-b, {mesh.ServerAddress}) → sink. Daemon log level: {logLevel}.");
    if (pair is not null)
        report.WriteLine("- HBONE pair: client → TCP listener → HboneClient ⇒ HboneServer → sink, in-process with no daemon (no SOCKS5, routing, authorization or access log): the mesh library's share.");
    report.WriteLine($"- MB = 10^6 bytes. The {streams} parallel streams share one pooled HBONE connection on the tunnelled paths.");
    report.WriteLine();
    var header = new StringBuilder("| Measurement | " + direct.Name + " |");
    var align = new StringBuilder("|---|---:|");
    foreach (var p in paths.Skip(1))
    {
        header.Append($" {p.Name} | ÷ direct |");
        align.Append("---:|---:|");
    }
    report.WriteLine(header);
    report.WriteLine(align);
    Row("Throughput, 1 stream (MB/s)", "throughput-1", r => ((ThroughputResult)r).MegabytesPerSecond, "0");
    Row($"Throughput, {streams} streams (MB/s, total)", $"throughput-{streams}", r => ((ThroughputResult)r).MegabytesPerSecond, "0");
    Row("1 KB ping-pong p50 (µs)", "ping-pong", r => ((LatencyResult)r).P50Microseconds, "0");
    Row("1 KB ping-pong p99 (µs)", "ping-pong", r => ((LatencyResult)r).P99Microseconds, "0");
    Row("1 KB ping-pong (round trips/s)", "ping-pong", r => ((LatencyResult)r).PerSecond, "0");
    Row("Short connections, sequential (conn/s)", "connect", r => ((LatencyResult)r).PerSecond, "0");
    Row("Short connection p50 (µs)", "connect", r => ((LatencyResult)r).P50Microseconds, "0");
    Row("Short connection p99 (µs)", "connect", r => ((LatencyResult)r).P99Microseconds, "0");
    report.WriteLine();
    report.WriteLine("Cost of each measurement to the whole process (client + sink, plus what carries the tunnel):");
    report.WriteLine();
    report.WriteLine($"| Measurement | Path | CPU (% of {Environment.ProcessorCount} cores) | CPU per unit | Allocated per unit | GCs (gen 0/1/2) | Other processes' CPU |");
    report.WriteLine("|---|---|---:|---:|---:|---:|---:|");
    foreach (var ((test, path), (result, cost)) in results)
    {
        var (units, unit) = result switch
        {
            ThroughputResult t => (t.Bytes / 1e6, "MB"),
            LatencyResult l when test == "connect" => (l.Count, "connection"),
            LatencyResult l => (l.Count, "round trip"),
            _ => (1.0, "run"),
        };
        double cpuPercent = cost.CpuSeconds / cost.WallSeconds / Environment.ProcessorCount * 100;
        double othersPercent = cost.OthersCpuSeconds / cost.WallSeconds / Environment.ProcessorCount * 100;
        report.WriteLine($"| {test} | {path.Name} | {cpuPercent:0}% | {Micro(cost.CpuSeconds / units)}/{unit} | {Bytes(cost.AllocatedBytes / units)}/{unit} | {cost.Gen0}/{cost.Gen1}/{cost.Gen2} | {othersPercent:0}% |");
    }
    report.WriteLine();
    report.WriteLine($"Between measurements this process used at most {maxIdleCpu:P0} of a core while idle.");
    report.WriteLine("\"Other processes' CPU\" is what the rest of the machine used meanwhile (from /proc/stat): above a few percent, the run competed for the cores and its numbers are low.");
    if (profiles.Count > 0)
    {
        report.WriteLine();
        report.WriteLine("Allocation profile (GCAllocationTick samples, ~100 KB each; approximate):");
        report.WriteLine();
        report.WriteLine("| Measurement | Path | Allocated | Top types (share of sampled bytes) |");
        report.WriteLine("|---|---|---:|---|");
        foreach (var (test, path, top, total) in profiles)
        {
            var ticks = top.Where(t => !t.Type.EndsWith("[count]", StringComparison.Ordinal)).ToList();
            long sampled = Math.Max(1, ticks.Sum(t => t.Bytes));
            var types = string.Join("; ", ticks.Take(6).Select(t => $"{t.Type} {100.0 * t.Bytes / sampled:0}%")
                .Concat(top.Where(t => t.Type.EndsWith("[count]", StringComparison.Ordinal)).Take(4).Select(t => $"{t.Type.Replace("[count]", "")}: {t.Bytes}×")));
            report.WriteLine($"| {test} | {path} | {Bytes(total)} | {(types.Length == 0 ? "(no samples)" : types)} |");
        }
    }
    if (failures.Count > 0)
    {
        report.WriteLine();
        report.WriteLine("**Failed measurements:**");
        foreach (var f in failures)
            report.WriteLine($"- {f}");
    }
    report.Flush();
}

void Row(string label, string test, Func<object, double> value, string format)
{
    double? d = results.TryGetValue((test, direct), out var rd) ? value(rd.Result) : null;
    var line = new StringBuilder($"| {label} | {Format(d, format)} |");
    foreach (var p in paths.Skip(1))
    {
        double? a = results.TryGetValue((test, p), out var ra) ? value(ra.Result) : null;
        string ratio = d is > 0 && a is not null ? (a.Value / d.Value).ToString("0.00", CultureInfo.InvariantCulture) : "–";
        line.Append($" {Format(a, format)} | {ratio} |");
    }
    report.WriteLine(line);
}

static string Format(double? v, string format) => v is { } x && !double.IsNaN(x) ? x.ToString(format, CultureInfo.InvariantCulture) : "failed";

static string Micro(double secondsPerUnit) => secondsPerUnit >= 1e-3
    ? (secondsPerUnit * 1e3).ToString("0.0", CultureInfo.InvariantCulture) + " ms"
    : (secondsPerUnit * 1e6).ToString("0.0", CultureInfo.InvariantCulture) + " µs";

static string Bytes(double b) => b >= 1 << 20
    ? (b / (1 << 20)).ToString("0.0", CultureInfo.InvariantCulture) + " MiB"
    : b >= 1024 ? (b / 1024).ToString("0.0", CultureInfo.InvariantCulture) + " KiB" : b.ToString("0", CultureInfo.InvariantCulture) + " B";

using Ambient.Harness;
using Ambient.Harness.Beds;
using Ambient.Harness.Configs;
using Ambient.Harness.Measure;
using Ambient.Harness.Report;
using Ambient.Hosting;
using Ambient.TestBed;

// ambient-perf: builds the beds, starts every configuration, measures them in alternating rounds, writes the
// report, and tears everything down whatever happens (exceptions, SIGINT, SIGTERM).
HarnessOptions options;
try
{
    var parsed = HarnessOptions.Parse(args, out bool help);
    if (help || parsed is null)
    {
        Console.WriteLine(HarnessOptions.Usage);
        return 0;
    }
    options = parsed;
}
catch (ArgumentException e)
{
    Console.Error.WriteLine($"ambient-perf: {e.Message} (see --help)");
    return 2;
}

if (!Cluster.IsSupported(out var unsupported))
{
    Console.Error.WriteLine($"ambient-perf: cannot build network namespaces: {unsupported}");
    return 2;
}
var missing = new[] { "haproxy", "iperf3", "nginx" }.Where(t => DotnetShim.Which(t) is null).ToList();
if (missing.Count > 0)
{
    Console.Error.WriteLine($"ambient-perf: missing {string.Join(", ", missing)} (apt-get install haproxy iperf3 nginx-light nghttp2-client)");
    return 2;
}

var clock = System.Diagnostics.Stopwatch.StartNew();
void Log(string line) => Console.Error.WriteLine($"[{clock.Elapsed:mm\\:ss}] {line}");
using var stop = new StopSignal();
var cancel = stop.Token;
Cluster.CleanupStale(Bed.Prefix);
var results = new ResultSet();
var fileLimit = Native.RaiseOpenFileLimit(262_144);
// The harness holds both ends of each idle connection (plus a few thousand other descriptors: sockets made ahead
// for each configuration, pipes, /proc reads), and an HAProxy hop two descriptors per connection.
int idleBudget = (int)Math.Max(100, ((long)fileLimit - 4_000) / 2);
if (options.IdleConnections > idleBudget)
{
    results.Note($"idle-connection test capped at {idleBudget:N0} connections (asked {options.IdleConnections:N0}): the open-file limit is {fileLimit:N0} and could not be raised (no CAP_SYS_RESOURCE?)");
    options = options with { IdleConnections = idleBudget };
}
Log($"open-file limit {fileLimit:N0}; {options.IdleConnections:N0} idle connections");

var machine = MachineInfo.Read();
var loadBefore = MachineInfo.LoadAverage();
string? aotDaemon = null;
if (options.Aot && (options.Only is null || options.Only.Contains(ConfigCatalog.AmbientAot)))
{
    Log("publishing the daemon with NativeAOT (a few minutes) …");
    // Beside the harness rather than in a temporary folder: a second run then re-links only if the daemon changed.
    aotDaemon = AotDaemon.Publish(Path.Combine(AppContext.BaseDirectory, "aot-daemon"), out var failure);
    if (aotDaemon is null) { results.Note($"NativeAOT skipped: {failure}"); Log($"NativeAOT skipped: {failure}"); }
}

var configs = ConfigCatalog.Create(options.Only, aotDaemon);
if (configs.Any(c => c.IsHttpProxy) && DotnetShim.Which("h2load") is null)
{
    Console.Error.WriteLine("ambient-perf: missing h2load, which drives the L7 configurations at full load (apt-get install nghttp2-client)");
    return 2;
}
var running = new List<Configuration>(); // started and carrying traffic: measured
var started = new List<Configuration>(); // everything that may hold namespaces or processes: torn down
var runner = new Runner(options, results, Log); // disposed before the configurations: its sockets pin their pods
bool allCarried = true;
try
{
    foreach (var config in configs)
    {
        Log($"starting {config.Name}: {config.Description}");
        started.Add(config);
        try
        {
            await config.StartAsync(cancel);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            Log($"{config.Name} did not start: {e.Message}");
            results.Note($"{config.Name} did not start: {e.Message}");
            allCarried = false;
            continue;
        }
        if (await runner.CarriesTrafficAsync(config, cancel))
        {
            await runner.WarmUpAsync(config, cancel);
            running.Add(config);
        }
        else
        {
            results.Note($"{config.Name}: no request got through; not measured");
            allCarried = false;
        }
    }

    for (int run = 0; run < options.Runs; run++)
    {
        // A B C D, then D C B A: each configuration's average position in time is the same, so drift cancels.
        var order = run % 2 == 0 ? running : Enumerable.Reverse(running).ToList();
        Log($"round {run + 1}/{options.Runs}: {string.Join(" → ", order.Select(c => c.Name))}");
        foreach (var config in order)
            allCarried &= await runner.MeasureRoundAsync(config, cancel);
    }
    foreach (var config in running)
    {
        allCarried &= await runner.MeasureIdleConnectionsOnceAsync(config, cancel);
        runner.RecordPeakRss(config);
    }
    if (running.FirstOrDefault() is { } host && running.Any(c => c is AmbientPath))
        await StartupProbe.RunAsync(host.Bed, aotDaemon, options.Runs, results, Log, cancel);

    var outDir = options.OutputDirectory ?? Repository.DefaultResultsDirectory();
    var report = ReportWriter.Write(outDir, results, running, options, machine, loadBefore, MachineInfo.LoadAverage(),
        "ambient-perf " + string.Join(' ', args), clock.Elapsed);
    Log($"report: {report}");
}
catch (OperationCanceledException)
{
    Log("stopped by signal; tearing down");
    return 130;
}
finally
{
    runner.Dispose();
    foreach (var config in started) await config.DisposeAsync();
}
Log(allCarried ? "done" : "done, but some configuration could not carry traffic");
return allCarried ? 0 : 1;


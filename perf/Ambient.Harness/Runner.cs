using Ambient.Harness.Beds;
using Ambient.Harness.Configs;
using Ambient.Harness.Load;
using Ambient.Harness.Measure;

namespace Ambient.Harness;

/// <summary>
/// Runs the measurements of one round on one configuration, always in the same order and with the same load, and
/// records them. A configuration that cannot carry traffic is reported as failed rather than silently skipped.
/// </summary>
public sealed class Runner(HarnessOptions options, ResultSet results, Action<string> log) : IDisposable
{
    /// <summary>Connections of the constant-rate test (several, as a client library's pool would use).</summary>
    private const int LatencyConnections = 16;

    /// <summary>Parallel connect/request/close loops of the connection-rate test.</summary>
    private const int ConnectLoops = 8;

    /// <summary>Connections of the full-load test: as many as the latency test's, for both protocols.</summary>
    private const int FullLoadConnections = 16;

    /// <summary>
    /// Requests in flight per HTTP/2 connection at full load (160 in all). HTTP/1.1 keeps one per connection (no
    /// pipelining, as clients do), so the HTTP/2 figure includes what multiplexing buys.
    /// </summary>
    private const int Http2StreamsPerConnection = 10;

    private const double Mebi = 1024 * 1024;

    private readonly Dictionary<Configuration, PodSockets> _sockets = [];

    /// <summary>True once a GET through the configuration returns 200 (retrying while the path comes up).</summary>
    public async Task<bool> CarriesTrafficAsync(Configuration config, CancellationToken cancel)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        string last = "";
        while (DateTime.UtcNow < deadline)
        {
            try
            {
                var r = await ConstantRateLoad.RunAsync(Sockets(config), config.Target(Ports.Http), 100, 1, TimeSpan.Zero, TimeSpan.FromSeconds(0.2), cancel);
                if (r.Completed > 0 && r.Errors == 0) return true;
                last = r.ToString();
            }
            catch (Exception e) when (e is System.Net.Sockets.SocketException or IOException) { last = e.Message; }
            await Task.Delay(200, cancel);
        }
        log($"{config.Name}: no traffic gets through ({last})");
        return false;
    }

    /// <summary>Untimed traffic of every kind, so JIT compilation and pool growth happen before anything is recorded.</summary>
    public async Task WarmUpAsync(Configuration config, CancellationToken cancel)
    {
        if (config.CarriesRawTcp) Iperf.Run(config.Bed.Client, config.Target(Ports.Iperf), 8, 2);
        await ConstantRateLoad.RunAsync(Sockets(config), config.Target(Ports.Http), 2_000, LatencyConnections, TimeSpan.Zero, TimeSpan.FromSeconds(2), cancel);
        await ConnectionRate.RunAsync(Sockets(config), config.Target(Ports.Http), ConnectLoops, TimeSpan.Zero, TimeSpan.FromSeconds(1), cancel);
    }

    /// <summary>One round of every measurement on <paramref name="config"/>. False if any found the path broken.</summary>
    public async Task<bool> MeasureRoundAsync(Configuration config, CancellationToken cancel)
    {
        bool ok = true;
        var pids = config.ProxyPids;
        if (pids.Count > 0)
        {
            // At rest first: what the proxies cost with no traffic (timers, pools) is part of every later per-request figure.
            results.Add(config.Name, Metrics.IdleRss, ProcessStats.RssBytes(pids) / Mebi);
            double cpuBefore = ProcessStats.CpuSeconds(pids);
            await Task.Delay(TimeSpan.FromSeconds(2), cancel);
            results.Add(config.Name, Metrics.IdleCpu, (ProcessStats.CpuSeconds(pids) - cpuBefore) / 2 * 100);
        }
        if (config.CarriesRawTcp) ok &= await Step(config, "iperf3", () => { MeasureThroughput(config, 1, Metrics.Throughput1, Metrics.CpuPerGb1); MeasureThroughput(config, 8, Metrics.Throughput8, Metrics.CpuPerGb8); return Task.FromResult(true); });
        foreach (var rate in options.Rates)
            ok &= await Step(config, $"{rate} rps", () => MeasureLatencyAsync(config, rate, cancel));
        ok &= await Step(config, "connection rate", () => MeasureConnectionRateAsync(config, cancel));
        if (config.IsHttpProxy)
            foreach (var protocol in WireProtocols.All)
                ok &= await Step(config, $"{protocol.Label()} at full load", () => MeasureFullLoadAsync(config, protocol, cancel));
        return ok;
    }

    /// <summary>
    /// The idle-connection test, once per configuration after all rounds: both HAProxy (its pools) and the daemons
    /// (the GC heap) keep memory after the first fill and reuse it, so a second fill shows almost no growth — and
    /// the memory kept would inflate every later round's RSS figures.
    /// </summary>
    public Task<bool> MeasureIdleConnectionsOnceAsync(Configuration config, CancellationToken cancel) =>
        config.CarriesRawTcp ? Step(config, "idle connections", () => MeasureIdleConnectionsAsync(config, cancel)) : Task.FromResult(true);

    private async Task<bool> Step(Configuration config, string what, Func<Task<bool>> measure)
    {
        try
        {
            bool ok = await measure();
            if (!ok) results.Note($"{config.Name}: {what} carried no traffic");
            return ok;
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            log($"{config.Name}: {what} failed: {e.Message}");
            results.Note($"{config.Name}: {what} failed: {e.Message}");
            return false;
        }
    }

    private void MeasureThroughput(Configuration config, int streams, Metric throughput, Metric cpuPerGb)
    {
        double cpuBefore = ProcessStats.CpuSeconds(config.ProxyPids);
        var r = Iperf.Run(config.Bed.Client, config.Target(Ports.Iperf), streams, options.DurationSeconds);
        double cpu = ProcessStats.CpuSeconds(config.ProxyPids) - cpuBefore;
        results.Add(config.Name, throughput, r.BitsPerSecond / 1e9);
        if (config.ProxyPids.Count > 0) results.Add(config.Name, cpuPerGb, cpu / (r.Bytes / 1e9));
        log($"{config.Name}: iperf3 -P {streams}: {r.BitsPerSecond / 1e9:N2} Gbit/s" + (config.ProxyPids.Count > 0 ? $", proxies {cpu / (r.Bytes / 1e9):N2} CPU s/GB" : ""));
    }

    private async Task<bool> MeasureLatencyAsync(Configuration config, int rate, CancellationToken cancel)
    {
        LatencyResult r;
        double cpu;
        long maxRss;
        await using (var usage = ProxyUsage.Start(config.ProxyPids))
        {
            r = await ConstantRateLoad.RunAsync(Sockets(config), config.Target(Ports.Http), rate, LatencyConnections, options.WarmUp, options.Duration, cancel);
            cpu = usage.CpuSeconds;
            maxRss = usage.MaxRssBytes;
        }
        log($"{config.Name}: {r}");
        if (r.Completed == 0) return false;
        foreach (var p in Metrics.Percentiles)
            results.Add(config.Name, Metrics.Latency(rate, p), r.Percentile(p));
        results.Add(config.Name, Metrics.AchievedRate(rate), r.AchievedRate);
        results.Add(config.Name, Metrics.Errors(rate), r.Errors + r.Unfinished);
        if (config.ProxyPids.Count > 0)
        {
            results.Add(config.Name, Metrics.CpuPerThousandRequests(rate), cpu * 1000 / (r.AllResponses / 1000.0));
            results.Add(config.Name, Metrics.LoadRss(rate), maxRss / Mebi);
        }
        return true;
    }

    private async Task<bool> MeasureConnectionRateAsync(Configuration config, CancellationToken cancel)
    {
        double cpuBefore = ProcessStats.CpuSeconds(config.ProxyPids);
        var r = await ConnectionRate.RunAsync(Sockets(config), config.Target(Ports.Http), ConnectLoops, TimeSpan.FromSeconds(1), options.Duration, cancel);
        double cpu = ProcessStats.CpuSeconds(config.ProxyPids) - cpuBefore;
        log($"{config.Name}: {r.PerSecond:N0} new connections/s ({r.Errors} errors)");
        if (r.Completed == 0) return false;
        results.Add(config.Name, Metrics.ConnectionRate, r.PerSecond);
        if (config.ProxyPids.Count > 0) results.Add(config.Name, Metrics.CpuPerThousandConnections, cpu * 1000 / (r.All / 1000.0));
        return true;
    }

    /// <summary>
    /// h2load at full load, after its own warm-up run (not recorded): successful requests per second, request-time
    /// percentiles from its per-request log, proxy CPU per request. Any failed, errored or timed-out request, the
    /// wrong protocol, or requests ending early in the run (a path that closed its connections) fails the step, after
    /// the figures are recorded: requests that failed are not throughput.
    /// </summary>
    private async Task<bool> MeasureFullLoadAsync(Configuration config, WireProtocol protocol, CancellationToken cancel)
    {
        var target = config.Target(protocol == WireProtocol.Http2 ? Ports.H2c : Ports.Http);
        int streams = protocol == WireProtocol.Http2 ? Http2StreamsPerConnection : 1;
        var logPath = Path.Combine(config.Bed.WorkDirectory, $"h2load-{protocol.Key()}.log");
        await Task.Run(() => H2load.Run(config.Bed.Client, target, protocol, FullLoadConnections, streams, (int)options.WarmUp.TotalSeconds, null), cancel);
        H2load.Result r;
        double cpu;
        await using (var usage = ProxyUsage.Start(config.ProxyPids))
        {
            r = await Task.Run(() => H2load.Run(config.Bed.Client, target, protocol, FullLoadConnections, streams, options.DurationSeconds, logPath), cancel);
            cpu = usage.CpuSeconds;
        }
        var s = r.Summary;
        log($"{config.Name}: {protocol.Label()} full load (h2load -c {FullLoadConnections} -m {streams}): {s.SucceededPerSecond:N0} req/s" +
            (s.Succeeded > 0 ? $", p50 {r.Percentile(50):N0} µs, p99 {r.Percentile(99):N0} µs" : "") +
            (s.Failed > 0 ? $", {s.Failed:N0} failed ({s.Errored:N0} errored, {s.TimedOut:N0} timeout)" : ""));
        if (s.Succeeded > 0)
        {
            results.Add(config.Name, Metrics.FullLoadRate(protocol), s.SucceededPerSecond);
            foreach (var p in Metrics.Percentiles)
                results.Add(config.Name, Metrics.FullLoadLatency(protocol, p), r.Percentile(p));
            if (config.ProxyPids.Count > 0 && s.Done > 0)
                results.Add(config.Name, Metrics.FullLoadCpuPerThousandRequests(protocol), cpu * 1000 / (s.Done / 1000.0));
        }
        results.Add(config.Name, Metrics.FullLoadFailed(protocol), s.Failed); // errored and timed-out requests are counted in failed too
        if (r.Problem(protocol, options.DurationSeconds) is { } problem)
            throw new InvalidOperationException($"h2load to {target}: {problem}");
        return true;
    }

    private async Task<bool> MeasureIdleConnectionsAsync(Configuration config, CancellationToken cancel)
    {
        var r = await IdleConnections.RunAsync(Sockets(config), config.Target(Ports.Sink), config.Bed.Sink, options.IdleConnections, config.ProxyPids, cancel);
        log($"{config.Name}: {r.Arrived:N0}/{r.Requested:N0} idle connections arrived" + (config.ProxyPids.Count > 0 ? $", {r.BytesPerConnection / 1024:N1} KiB each" : ""));
        results.Add(config.Name, Metrics.IdleConnectionsArrived, r.Arrived);
        if (config.ProxyPids.Count > 0) results.Add(config.Name, Metrics.IdleBytesPerConnection, r.BytesPerConnection / 1024);
        return r.Arrived > 0;
    }

    /// <summary>Records the proxies' peak RSS over the whole run (call once, at the end).</summary>
    public void RecordPeakRss(Configuration config)
    {
        if (config.ProxyPids.Count > 0) results.Add(config.Name, Metrics.PeakRss, ProcessStats.PeakRssBytes(config.ProxyPids) / Mebi);
    }

    private PodSockets Sockets(Configuration config)
    {
        if (!_sockets.TryGetValue(config, out var s))
            _sockets[config] = s = new PodSockets(config.Bed.Client);
        return s;
    }

    /// <summary>Closes the client sockets made ahead of use (they would keep the client pods' namespaces alive).</summary>
    public void Dispose()
    {
        foreach (var s in _sockets.Values) s.Clear();
    }
}

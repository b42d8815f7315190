using System.Text;
using Ambient.Harness.Configs;
using Ambient.Harness.Load;
using Ambient.Harness.Measure;

namespace Ambient.Harness.Report;

/// <summary>
/// report.md: the machine, the configurations, a headline comparison of Ambient with the HAProxy mTLS pair, then
/// every metric as median [min–max] over the alternating runs, with the plots and ratios Ambient ÷ peer.
/// </summary>
public sealed class MarkdownReport(ResultSet results, IReadOnlyList<Configuration> configs, HarnessOptions options)
{
    private const string Ambient = "ambient";
    private readonly StringBuilder _md = new();
    private IEnumerable<string> Names => configs.Select(c => c.Name);

    public string Build(MachineInfo machine, string loadBefore, string loadAfter, string commandLine, TimeSpan elapsed)
    {
        _md.AppendLine($"# Ambient side by side: no proxy, HAProxy pair, Ambient — {DateTime.Now:yyyy-MM-dd} on {machine.Host}").AppendLine();
        _md.AppendLine($"`{commandLine}` — {options.Runs} alternating run(s) per configuration, {options.DurationSeconds} s per measurement " +
            $"after {options.WarmUp.TotalSeconds:N0} s of warm-up, {elapsed.TotalMinutes:N1} min in all.").AppendLine();
        Table(["", ""], [
            ["CPU", $"{machine.Cpu}, {machine.Cores} logical cores"], ["kernel", machine.Kernel], [".NET", machine.Dotnet],
            ["HAProxy", machine.Haproxy], ["iperf3", machine.Iperf], ["nginx", machine.Nginx],
            ["load average (1/5/15 min)", $"{loadBefore} at start, {loadAfter} at end"]], numeric: false);
        _md.AppendLine("""
            Every process — load generator, nginx, iperf3 and both proxies — shares the same cores, as on one node; on a
            machine shared with other work (a load average above zero before the start) absolute numbers move between
            runs, which is why configurations alternate (A B C D, D C B A, …) and every figure is a median with its
            min–max spread. Compare configurations within this report, not across reports.

            """);
        Configurations();
        Headline();
        L7Headline();
        FullLoad();
        Throughput();
        foreach (var rate in options.Rates) Latency(rate);
        Connections();
        Aot();
        Ratios();
        if (results.Notes.Count > 0)
        {
            _md.AppendLine("## Notes from the run").AppendLine();
            foreach (var n in results.Notes) _md.AppendLine($"- {n}");
            _md.AppendLine();
        }
        Method();
        return _md.ToString();
    }

    private void Configurations()
    {
        _md.AppendLine("## Configurations").AppendLine();
        Table(["name", "what carries client → server"], configs.Select(c => new[] { $"`{c.Name}`", c.Description }), numeric: false);
    }

    private void Headline()
    {
        const string peer = ConfigCatalog.HeadlinePeer;
        if (!Names.Contains(Ambient) || !Names.Contains(peer)) return;
        _md.AppendLine($"## Headline: Ambient vs the HAProxy mutual-TLS pair").AppendLine();
        List<string[]> rows = [Row(Metrics.Throughput1, "≥ 1.2×"), Row(Metrics.Throughput8, "≥ 1.2×")];
        foreach (var rate in options.Rates)
        {
            rows.Add(AddedRow(rate, 50));
            rows.Add(AddedRow(rate, 99));
            rows.Add(Row(Metrics.CpuPerThousandRequests(rate), "< 1×"));
        }
        rows.Add(Row(Metrics.ConnectionRate, "—"));
        rows.Add(Row(Metrics.IdleBytesPerConnection, "—"));
        Table(["metric", "ambient", peer, "ambient ÷ haproxy-tls", "target"], rows);

        string[] Row(Metric m, string target) =>
            [$"{m.Title} ({m.Unit})", Format(results.Median(Ambient, m), m), Format(results.Median(peer, m), m), Ratio(Ambient, peer, m), target];

        string[] AddedRow(int rate, double p)
        {
            var m = Metrics.Latency(rate, p);
            double a = Added(Ambient, m), h = Added(peer, m);
            return [$"added latency p{p} at {rate:N0} rps (µs)", Format(a, m), Format(h, m), Ratio(a, h), "< 1×"];
        }
    }

    /// <summary>The L7 comparison: three proxies with mTLS between them (daemon → waypoint → daemon) against one nginx.</summary>
    private void L7Headline()
    {
        const string waypoint = "ambient-waypoint", nginx = "nginx-l7";
        if (!Names.Contains(waypoint) || !Names.Contains(nginx)) return;
        _md.AppendLine("## L7: the waypoint path vs nginx as a reverse proxy").AppendLine();
        _md.AppendLine("The same 1 KB HTTP/1.1 keep-alive requests. The waypoint path is three proxies (client's daemon, waypoint, " +
            "server's daemon) with mutual TLS between them; nginx is one plaintext hop. CPU counts all proxies of a path.").AppendLine();
        var rows = new List<string[]>();
        foreach (var rate in options.Rates)
        {
            rows.Add(Row(Metrics.AchievedRate(rate)));
            rows.Add(AddedRow(rate, 50));
            rows.Add(AddedRow(rate, 99));
            rows.Add(Row(Metrics.CpuPerThousandRequests(rate)));
        }
        rows.Add(Row(Metrics.ConnectionRate));
        Table(["metric", waypoint, nginx, "waypoint ÷ nginx"], rows);

        string[] Row(Metric m) =>
            [$"{m.Title} ({m.Unit})", Format(results.Median(waypoint, m), m), Format(results.Median(nginx, m), m), Ratio(waypoint, nginx, m)];

        string[] AddedRow(int rate, double p)
        {
            var m = Metrics.Latency(rate, p);
            double a = Added(waypoint, m), n = Added(nginx, m);
            return [$"added latency p{p} at {rate:N0} rps (µs)", Format(a, m), Format(n, m), Ratio(a, n)];
        }
    }

    /// <summary>
    /// The L7 configurations at full load (h2load, closed loop), HTTP/1.1 and HTTP/2: configuration × protocol, and
    /// waypoint ÷ nginx per protocol when both ran.
    /// </summary>
    private void FullLoad()
    {
        const string waypoint = "ambient-waypoint", nginx = "nginx-l7";
        var l7 = configs.Where(c => c.IsHttpProxy).Select(c => c.Name).ToList();
        if (l7.Count == 0) return;
        _md.AppendLine("## L7 at full load: HTTP/1.1 and HTTP/2 (h2load)").AppendLine();
        _md.AppendLine($"""
            h2load from the client pod, closed loop for {options.DurationSeconds} s after a {options.WarmUp.TotalSeconds:N0} s warm-up run: 16 connections,
            HTTP/1.1 with one request in flight per connection (keep-alive, no pipelining), HTTP/2 (h2c, prior knowledge)
            with 10 streams per connection (160 in flight). Requests/s counts successful (2xx/3xx) requests only; any failed
            request fails the run. Request time runs from sending a request to the end of its response as h2load
            logs it (every request; percentiles by nearest rank): at full load it is mostly queueing, and, closed-loop,
            not corrected for coordinated omission — compare it between configurations, not with the constant-rate
            tables. **Protocols differ upstream**: nginx (1.22) speaks HTTP/1.1 to the server whatever the client
            speaks (`proxy_pass` has no HTTP/2), holding one upstream connection per request in flight; the waypoint
            forwards with the client's protocol, so an HTTP/2 request stays HTTP/2 through every hop (client → daemon →
            waypoint → daemon → server's h2c port). The server is the same nginx on both paths, HTTP/1.1 on port 80 and
            h2c on port 8081 (nginx 1.22 cannot serve both on one plaintext port).

            """);
        var rows = new List<string[]>();
        foreach (var protocol in WireProtocols.All)
        {
            var rate = Metrics.FullLoadRate(protocol);
            var p50 = Metrics.FullLoadLatency(protocol, 50);
            var p99 = Metrics.FullLoadLatency(protocol, 99);
            var cpu = Metrics.FullLoadCpuPerThousandRequests(protocol);
            foreach (var n in l7)
                rows.Add([protocol.Label(), n, Cell(n, rate), Cell(n, p50), Cell(n, p99), Cell(n, cpu), Cell(n, Metrics.FullLoadFailed(protocol))]);
            if (l7.Contains(waypoint) && l7.Contains(nginx))
                rows.Add([protocol.Label(), "**waypoint ÷ nginx**", Ratio(waypoint, nginx, rate), Ratio(waypoint, nginx, p50), Ratio(waypoint, nginx, p99), Ratio(waypoint, nginx, cpu), ""]);
        }
        Table(["protocol", "configuration", "requests/s", "p50 (µs)", "p99 (µs)", "proxy CPU ms / 1k req", "failed requests"], rows, textColumns: 2);
    }

    private void Throughput()
    {
        _md.AppendLine("## Throughput (iperf3)").AppendLine();
        Table(["configuration", "1 stream (Gbit/s)", "8 streams (Gbit/s)", "proxy CPU s/GB, 1 stream", "proxy CPU s/GB, 8 streams"],
            Names.Select(n => new[] { n, Cell(n, Metrics.Throughput1), Cell(n, Metrics.Throughput8), Cell(n, Metrics.CpuPerGb1), Cell(n, Metrics.CpuPerGb8) }));
        _md.AppendLine("![throughput](throughput.png)").AppendLine();
    }

    private void Latency(int rate)
    {
        _md.AppendLine($"## Latency at a constant {rate:N0} requests/s").AppendLine();
        _md.AppendLine("Microseconds from each request's scheduled send time to its full response (coordinated-omission corrected); " +
            "'added' is the median minus the direct path's median.").AppendLine();
        var head = new List<string> { "configuration", "achieved req/s" };
        head.AddRange(Metrics.Percentiles.Select(p => $"p{p}"));
        head.AddRange(["added p50", "added p99", "added p99.9", "proxy CPU ms / 1k req", "proxy max RSS (MiB)", "errors"]);
        Table(head, Names.Select(n =>
        {
            var row = new List<string> { n, Cell(n, Metrics.AchievedRate(rate)) };
            row.AddRange(Metrics.Percentiles.Select(p => Cell(n, Metrics.Latency(rate, p))));
            row.AddRange(new[] { 50, 99, 99.9 }.Select(p => Format(Added(n, Metrics.Latency(rate, p)), Metrics.Latency(rate, p))));
            row.AddRange([Cell(n, Metrics.CpuPerThousandRequests(rate)), Cell(n, Metrics.LoadRss(rate)), Cell(n, Metrics.Errors(rate))]);
            return row.ToArray();
        }));
        _md.AppendLine($"![latency at {rate} rps](latency-{rate}.png)").AppendLine();
    }

    private void Connections()
    {
        _md.AppendLine("## Connections and memory").AppendLine();
        Table(["configuration", "new conn/s", "proxy CPU ms / 1k conn", $"KiB per idle conn ({options.IdleConnections:N0} open, once)", "reached server", "proxy RSS at rest (MiB)", "proxy CPU at rest (% core)", "proxy peak RSS (MiB)"],
            Names.Select(n => new[] { n, Cell(n, Metrics.ConnectionRate), Cell(n, Metrics.CpuPerThousandConnections), Cell(n, Metrics.IdleBytesPerConnection),
                Cell(n, Metrics.IdleConnectionsArrived), Cell(n, Metrics.IdleRss), Cell(n, Metrics.IdleCpu), Cell(n, Metrics.PeakRss) }));
        _md.AppendLine("![connections](connections.png) ![cpu](cpu.png)").AppendLine();
    }

    private void Aot()
    {
        bool aot = Names.Contains(ConfigCatalog.AmbientAot);
        if (results.Get("daemon-jit", Metrics.DaemonStartMs) is null) return;
        _md.AppendLine("## Daemon: JIT vs NativeAOT").AppendLine();
        List<string[]> rows =
        [
            ["start to listening (ms)", Cell("daemon-jit", Metrics.DaemonStartMs), (aot ? Cell("daemon-aot", Metrics.DaemonStartMs) : "—")],
            ["RSS idle, no pods (MiB)", Cell("daemon-jit", Metrics.DaemonIdleRss), (aot ? Cell("daemon-aot", Metrics.DaemonIdleRss) : "—")],
        ];
        foreach (var m in new[] { Metrics.Throughput1, Metrics.Throughput8, Metrics.CpuPerThousandRequests(options.Rates[^1]), Metrics.IdleRss })
            rows.Add([$"{m.Title} ({m.Unit})", Cell(Ambient, m), (aot ? Cell(ConfigCatalog.AmbientAot, m) : "—")]);
        Table(["", "JIT", "NativeAOT"], rows);
        if (!aot) _md.AppendLine("NativeAOT not measured (run with `--aot`; see the notes if it was asked for).").AppendLine();
    }

    private void Ratios()
    {
        if (!Names.Contains(Ambient)) return;
        var peers = Names.Where(n => n != Ambient && n != ConfigCatalog.AmbientAot).ToList();
        _md.AppendLine("## Ratios: Ambient ÷ peer (medians)").AppendLine();
        var metrics = new List<Metric> { Metrics.Throughput1, Metrics.Throughput8, Metrics.ConnectionRate };
        foreach (var rate in options.Rates)
            metrics.AddRange([Metrics.Latency(rate, 50), Metrics.Latency(rate, 99), Metrics.CpuPerThousandRequests(rate)]);
        metrics.AddRange([Metrics.CpuPerGb8, Metrics.IdleBytesPerConnection, Metrics.IdleRss]);
        Table(["metric", .. peers.Select(p => $"÷ {p}"), "better when"], metrics.Select(m =>
            new[] { $"{m.Title} ({m.Unit})" }.Concat(peers.Select(p => Ratio(Ambient, p, m))).Append(m.HigherIsBetter ? "> 1" : "< 1").ToArray()));
    }

    private void Method()
    {
        _md.AppendLine("""
            ## Method

            - **Topology**: per configuration its own pair of nodes (network namespaces joined by a bridge) built with
              `tests/Ambient.TestBed`; the client pod on node1, the server pod on node2 with nginx (a fixed 1,024-byte
              answer, keep-alive; HTTP/1.1 on port 80, h2c on port 8081), an iperf3 server and a connection sink. All
              configurations stay up for the whole run.
            - **Throughput**: `iperf3 -c … -t D -O 1 -P 1|8 -J`, received bits per second; proxy CPU (utime+stime of
              the proxy processes from /proc) per GB received.
            - **Latency**: a constant-rate generator in the harness (HdrHistogram): a timetable thread releases request
              k at start + k/rate (clock_nanosleep), 16 keep-alive connections take due requests, one in flight each;
              latency runs from the *scheduled* time, so queueing behind a slow response is counted. Warm-up requests
              are not recorded. If a configuration cannot keep up, the achieved rate says so and its latencies grow.
            - **CPU and memory per request**: proxy CPU over the test divided by responses; proxy RSS sampled every
              100 ms. Proxies are both HAProxy processes or both daemons (the node agents are control plane only).
            - **New connections**: 8 loops of connect → `GET` with `Connection: close` → response → close.
            - **Full load (L7 configurations only)**: `h2load -D <duration> -c 16 -m 1 --h1` (HTTP/1.1) and
              `-c 16 -m 10` (HTTP/2, h2c prior knowledge) with `--log-file`, after an unrecorded warm-up run of the
              same shape; successful requests per second, request-time percentiles from the per-request log, proxy CPU
              over the run per 1,000 requests. h2load exits 0 whatever happens, so its counters decide: a run with a
              failed, errored or timed-out request, or no success, counts as a configuration that cannot carry traffic.
            - **Idle connections**: once per configuration, after all rounds (memory a proxy keeps after the first
              fill is reused by a second one, and would inflate later rounds): N connections opened to the server
              pod's sink; once all arrived, the proxies' RSS growth divided by N. Kernel socket memory is not in RSS.
            - **Same for everyone**: the same client code, payloads and rates for every configuration; a warm-up of
              every kind of traffic after start-up; runs in alternating order.

            """);
    }

    private double Added(string config, Metric latency) => results.Median(config, latency) - results.Median("direct", latency);

    private string Cell(string config, Metric m)
    {
        var s = results.Get(config, m);
        if (s is null || s.Count == 0) return "—";
        return s.Count == 1 ? Format(s.Median, m) : $"{Format(s.Median, m)} [{Format(s.Min, m)}–{Format(s.Max, m)}]";
    }

    private static string Format(double v, Metric m) => double.IsNaN(v) ? "—" : v.ToString(m.Format);

    private string Ratio(string a, string b, Metric m) => Ratio(results.Median(a, m), results.Median(b, m));

    private static string Ratio(double a, double b) =>
        // A ratio of a negative "added" latency (the proxy happened to beat a noisy direct run) means nothing.
        double.IsNaN(a) || double.IsNaN(b) || a < 0 || b <= 0 ? "—" : $"{a / b:N2}×";

    /// <summary>A Markdown table; columns after the first <paramref name="textColumns"/> are right-aligned when they hold numbers.</summary>
    private void Table(IReadOnlyList<string> head, IEnumerable<string[]> rows, bool numeric = true, int textColumns = 1)
    {
        _md.AppendLine("| " + string.Join(" | ", head) + " |");
        _md.AppendLine("|" + string.Concat(head.Select((_, i) => i < textColumns || !numeric ? "---|" : "---:|")));
        foreach (var r in rows) _md.AppendLine("| " + string.Join(" | ", r) + " |");
        _md.AppendLine();
    }
}

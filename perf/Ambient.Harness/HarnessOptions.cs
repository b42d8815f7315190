namespace Ambient.Harness;

/// <summary>The command line of ambient-perf, validated once here so the rest can trust it.</summary>
public sealed record HarnessOptions
{
    public const string Usage = """
        ambient-perf — Ambient side by side with HAProxy and with no proxy, and the waypoint with nginx as a reverse
        proxy, measured in one run (Linux, root).

        Builds a two-node test bed (network namespaces) per configuration — client pod on node1, server pod on
        node2 running nginx (1 KB answers over HTTP/1.1 and h2c) and iperf3 — and measures each configuration in
        turn, in alternating order (A B C D, D C B A, …) so slow drift of a shared machine cancels out. The L7
        configurations (nginx-l7, ambient-waypoint) are also driven at full load with h2load over HTTP/1.1 and
        HTTP/2. Writes report.md and PNG plots. Needs haproxy, iperf3, nginx, and h2load for the L7 ones.

        Usage: ambient-perf [--quick] [--runs N] [--duration S] [--out DIR] [--aot] [--only CONFIGS]

          --quick          Every configuration briefly (1 run, 2 s per measurement, 1,000 idle connections);
                           exits 1 if any configuration cannot carry traffic (for the L7 ones: HTTP/1.1 or
                           HTTP/2 without a failed request). For CI.
          --runs N         Alternating rounds per configuration (default 3; 1 with --quick).
          --duration S     Seconds per measurement, warm-up excluded (default 5; 2 with --quick).
          --out DIR        Results folder (default perf/results/<yyyy-MM-dd>-<hostname>/ in the repository).
          --aot            Also publish the daemon with NativeAOT and measure it as configuration ambient-aot
                           (skipped with a note if the publish fails: needs clang and zlib1g-dev).
          --only CONFIGS   Comma-separated subset of: direct, haproxy-tcp, haproxy-tls, ambient, ambient-aot,
                           nginx-l7, ambient-waypoint (e.g. --only nginx-l7,ambient-waypoint for the L7 pair;
                           without direct, added latencies are not computed).
          --idle-conns N   Open connections for the memory-per-connection test (default 10000; 1000 with --quick).
          -h, --help       This text.

        Exit codes: 0 done, 1 a configuration failed to carry traffic, 2 bad command line or missing tools.
        """;

    public bool Quick { get; init; }
    public int Runs { get; init; } = 3;
    public int DurationSeconds { get; init; } = 5;
    public string? OutputDirectory { get; init; }
    public bool Aot { get; init; }
    public IReadOnlySet<string>? Only { get; init; }
    public int IdleConnections { get; init; } = 10_000;

    /// <summary>Request rates of the latency test (the issue fixes 1,000 and 10,000 per second).</summary>
    public IReadOnlyList<int> Rates { get; } = [1_000, 10_000];

    /// <summary>Warm-up before each latency measurement, excluded from the histogram.</summary>
    public TimeSpan WarmUp => TimeSpan.FromSeconds(Quick ? 1 : 2);

    public TimeSpan Duration => TimeSpan.FromSeconds(DurationSeconds);

    /// <summary>Parses the arguments; null with <paramref name="help"/> set for --help. Throws ArgumentException on errors.</summary>
    public static HarnessOptions? Parse(IReadOnlyList<string> args, out bool help)
    {
        help = false;
        var o = new HarnessOptions();
        bool runsSet = false, durationSet = false, idleSet = false;
        for (int i = 0; i < args.Count; i++)
        {
            string Value() => i + 1 < args.Count ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
            int Positive(string name)
            {
                var v = Value();
                return int.TryParse(v, out int n) && n > 0 ? n : throw new ArgumentException($"{name} '{v}' is not a positive integer");
            }
            switch (args[i])
            {
                case "-h" or "--help": help = true; return null;
                case "--quick": o = o with { Quick = true }; break;
                case "--aot": o = o with { Aot = true }; break;
                case "--runs": o = o with { Runs = Positive("--runs") }; runsSet = true; break;
                case "--duration": o = o with { DurationSeconds = Positive("--duration") }; durationSet = true; break;
                case "--idle-conns": o = o with { IdleConnections = Positive("--idle-conns") }; idleSet = true; break;
                case "--out": o = o with { OutputDirectory = Value() }; break;
                case "--only":
                    var names = Value().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToHashSet();
                    var unknown = names.Except(Configs.ConfigCatalog.Names).ToList();
                    if (unknown.Count > 0) throw new ArgumentException($"--only: unknown configuration(s) {string.Join(", ", unknown)}; known: {string.Join(", ", Configs.ConfigCatalog.Names)}");
                    o = o with { Only = names };
                    break;
                default: throw new ArgumentException($"unknown option '{args[i]}'");
            }
        }
        if (o.Quick)
            o = o with
            {
                Runs = runsSet ? o.Runs : 1,
                DurationSeconds = durationSet ? o.DurationSeconds : 2,
                IdleConnections = idleSet ? o.IdleConnections : 1_000,
            };
        return o;
    }
}

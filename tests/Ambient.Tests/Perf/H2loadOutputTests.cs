using Ambient.Harness.Load;

namespace Ambient.Tests.Perf;

/// <summary>
/// ambient-perf's reading of h2load (perf/Ambient.Harness/Load/H2loadOutput.cs, compiled in here by a link): the
/// summary counters decide whether a run carried traffic, since h2load exits 0 whatever happened. Samples are real
/// h2load 1.52 output captured against nginx 1.22 on loopback.
/// </summary>
public class H2loadOutputTests
{
    /// <summary>stdout of <c>h2load -D 2 --warm-up-time=1 -c 4 -m 10 --log-file=… http://…/ against nginx 1.22 (h2c listener)</c> (h2load 1.52).</summary>
    private const string TimedHttp2 = """
        starting benchmark...
        spawning thread #0: 4 total client(s). Timing-based test with 1s of warm-up time and 2s of main duration for measurements.
        Warm-up started for thread #0.
        progress: 25% of clients started
        progress: 50% of clients started
        progress: 75% of clients started
        progress: 100% of clients started
        Application protocol: h2c
        Warm-up phase is over for thread #0.
        Main benchmark duration is started for thread #0.
        Main benchmark duration is over for thread #0. Stopping all clients.
        Stopped all clients for thread #0

        finished in 3.00s, 67525.00 req/s, 4.64MB/s
        requests: 135050 total, 135050 started, 135050 done, 135050 succeeded, 0 failed, 0 errored, 0 timeout
        status codes: 135050 2xx, 0 3xx, 0 4xx, 0 5xx
        traffic: 9.27MB (9723600) total, 11.05MB (11587961) headers (space savings 50.00%), 1.13MB (1182440) data
                             min         max         mean         sd        +/- sd
        time for request:       37us      7.59ms       517us       335us    89.13%
        time for connect:        0us         0us         0us         0us     0.00%
        time to 1st byte:        0us         0us         0us         0us     0.00%
        req/s           :   16071.41    17872.61    16880.21      844.14    75.00%
        """;

    /// <summary>stdout of <c>h2load --h1 -D 1 -c 4 -m 1 --log-file=… http://…/ against nginx 1.22 (HTTP/1.1 listener)</c> (h2load 1.52).</summary>
    private const string TimedHttp1 = """
        starting benchmark...
        spawning thread #0: 4 total client(s). Timing-based test with 0s of warm-up time and 1s of main duration for measurements.
        Warm-up started for thread #0.
        progress: 25% of clients started
        progress: 50% of clients started
        progress: 75% of clients started
        progress: 100% of clients started
        Warm-up phase is over for thread #0.
        Main benchmark duration is started for thread #0.
        Application protocol: http/1.1
        Main benchmark duration is over for thread #0. Stopping all clients.
        Stopped all clients for thread #0

        finished in 1.00s, 41493.00 req/s, 6.01MB/s
        requests: 41493 total, 41497 started, 41493 done, 41493 succeeded, 0 failed, 0 errored, 0 timeout
        status codes: 41493 2xx, 0 3xx, 0 4xx, 0 5xx
        traffic: 6.01MB (6306936) total, 4.27MB (4481676) headers (space savings 0.00%), 202.62KB (207485) data
                             min         max         mean         sd        +/- sd
        time for request:       17us      2.51ms        95us        46us    88.69%
        time for connect:        9us        33us        23us        10us    75.00%
        time to 1st byte:      261us       308us       293us        22us    75.00%
        req/s           :   10364.69    10383.29    10371.70        8.08    75.00%
        """;

    /// <summary>stdout of <c>h2load -n 200 -c 2 -m 5 http://…/ against an HTTP/1.1-only listener: every request errored</c> (h2load 1.52).</summary>
    private const string Http2AgainstHttp1Server = """
        starting benchmark...
        spawning thread #0: 2 total client(s). 200 total requests
        Application protocol: h2c

        finished in 1.58ms, 0.00 req/s, 383.18KB/s
        requests: 200 total, 10 started, 0 done, 0 succeeded, 200 failed, 200 errored, 0 timeout
        status codes: 0 2xx, 0 3xx, 0 4xx, 0 5xx
        traffic: 618B (618) total, 0B (0) headers (space savings 0.00%), 0B (0) data
                             min         max         mean         sd        +/- sd
        time for request:        0us         0us         0us         0us     0.00%
        time for connect:      418us       709us       563us       205us   100.00%
        time to 1st byte:        0us         0us         0us         0us     0.00%
        req/s           :       0.00        0.00        0.00        0.00   100.00%
        """;

    /// <summary>stdout of <c>h2load -n 200 -c 2 -m 5 http://…/err, where nginx answers 503</c> (h2load 1.52).</summary>
    private const string AllAnswered503 = """
        starting benchmark...
        spawning thread #0: 2 total client(s). 200 total requests
        Application protocol: h2c
        progress: 10% done
        progress: 20% done
        progress: 30% done
        progress: 40% done
        progress: 50% done
        progress: 60% done
        progress: 70% done
        progress: 80% done
        progress: 90% done
        progress: 100% done

        finished in 2.86ms, 69930.07 req/s, 4.83MB/s
        requests: 200 total, 200 started, 200 done, 0 succeeded, 200 failed, 0 errored, 0 timeout
        status codes: 0 2xx, 0 3xx, 0 4xx, 200 5xx
        traffic: 14.16KB (14498) total, 10.16KB (10400) headers (space savings 46.94%), 400B (400) data
                             min         max         mean         sd        +/- sd
        time for request:       21us       223us       102us        39us    75.50%
        time for connect:       98us       263us       181us       116us   100.00%
        time to 1st byte:      297us       470us       384us       122us   100.00%
        req/s           :   37250.83    40689.03    38969.93     2431.17   100.00%
        """;

    /// <summary>stdout of <c>h2load -D 1 -c 2 -m 10 http://…/mixed, where nginx answers 503 when $request_id starts with 0</c> (h2load 1.52).</summary>
    private const string OneIn16Answered503 = """
        starting benchmark...
        spawning thread #0: 2 total client(s). Timing-based test with 0s of warm-up time and 1s of main duration for measurements.
        Warm-up started for thread #0.
        progress: 50% of clients started
        progress: 100% of clients started
        Warm-up phase is over for thread #0.
        Main benchmark duration is started for thread #0.
        Application protocol: h2c
        Main benchmark duration is over for thread #0. Stopping all clients.
        Stopped all clients for thread #0

        finished in 1.00s, 84602.00 req/s, 5.73MB/s
        requests: 84602 total, 84622 started, 84602 done, 79161 succeeded, 5441 failed, 0 errored, 0 timeout
        status codes: 79161 2xx, 0 3xx, 0 4xx, 5441 5xx
        traffic: 5.73MB (6012281) total, 3.89MB (4082660) headers (space savings 50.76%), 397.16KB (406687) data
                             min         max         mean         sd        +/- sd
        time for request:       16us      1.42ms       221us        98us    66.55%
        time for connect:      140us       168us       154us        19us   100.00%
        time to 1st byte:     1.51ms      1.56ms      1.53ms        39us   100.00%
        req/s           :   42261.65    42332.37    42297.01       50.00   100.00%
        """;

    /// <summary>stdout of <c>h2load -D 1 -c 2 -m 5 http://…/ to a port nobody listens on</c> (h2load 1.52).</summary>
    private const string ConnectionRefused = """
        starting benchmark...
        spawning thread #0: 2 total client(s). Timing-based test with 0s of warm-up time and 1s of main duration for measurements.
        Warm-up started for thread #0.
        progress: 50% of clients started
        progress: 100% of clients started
        Warm-up phase is over for thread #0.
        Main benchmark duration is started for thread #0.
        Main benchmark duration is over for thread #0. Stopping all clients.
        Stopped all clients for thread #0

        finished in 1.00s, 0.00 req/s, 0B/s
        requests: 0 total, 0 started, 0 done, 0 succeeded, 0 failed, 0 errored, 0 timeout
        status codes: 0 2xx, 0 3xx, 0 4xx, 0 5xx
        traffic: 0B (0) total, 0B (0) headers (space savings 0.00%), 0B (0) data
                             min         max         mean         sd        +/- sd
        time for request:        0us         0us         0us         0us     0.00%
        time for connect:        0us         0us         0us         0us     0.00%
        time to 1st byte:        0us         0us         0us         0us     0.00%
        req/s           :       0.00        0.00        0.00        0.00   100.00%
        """;

    /// <summary>stdout of <c>h2load -D 2 -c 4 -m 10 --log-file=… http://…/ with nginx killed (SIGKILL) after 1 s</c> (h2load 1.52).</summary>
    private const string ServerKilledMidRun = """
        starting benchmark...
        spawning thread #0: 4 total client(s). Timing-based test with 0s of warm-up time and 2s of main duration for measurements.
        Warm-up started for thread #0.
        progress: 25% of clients started
        progress: 50% of clients started
        progress: 75% of clients started
        progress: 100% of clients started
        Warm-up phase is over for thread #0.
        Main benchmark duration is started for thread #0.
        Application protocol: h2c
        Main benchmark duration is over for thread #0. Stopping all clients.
        Stopped all clients for thread #0

        finished in 2.00s, 66800.50 req/s, 4.52MB/s
        requests: 133601 total, 133641 started, 133601 done, 133601 succeeded, 0 failed, 0 errored, 0 timeout
        status codes: 133602 2xx, 0 3xx, 0 4xx, 0 5xx
        traffic: 9.05MB (9485924) total, 6.12MB (6412896) headers (space savings 51.02%), 652.35KB (668005) data
                             min         max         mean         sd        +/- sd
        time for request:       18us      2.40ms       272us       114us    72.69%
        time for connect:       60us        98us        82us        16us    75.00%
        time to 1st byte:      315us       560us       430us       105us    50.00%
        req/s           :   33286.26    33381.74    33342.25       40.69    75.00%
        """;

    /// <summary>First and last lines (by start time) of the --log-file of <see cref="TimedHttp2"/>, and its one status-0 line.</summary>
    private static readonly string[] TimedHttp2Log =
    [
        "1795719936794893\t0\t710",
        "1795719936794916\t200\t525",
        "1795719936794917\t200\t581",
        "1795719936794917\t200\t583",
        "1795719936794917\t200\t586",
        "1795719938794500\t200\t303",
        "1795719938794567\t200\t302",
        "",
    ];

    /// <summary>First and last lines (by start time) of the --log-file of <see cref="ServerKilledMidRun"/>: nothing after 1 s of 2.</summary>
    private static readonly string[] ServerKilledMidRunLog =
    [
        "1795720283166169\t200\t189",
        "1795720283166170\t200\t211",
        "1795720284164814\t200\t69",
        "1795720284164814\t200\t74",
    ];

    [Fact]
    public void TimedHttp2RunIsParsedAndCarriesTraffic()
    {
        var s = H2loadOutput.ParseSummary(TimedHttp2);
        Assert.Equal("h2c", s.Protocol);
        Assert.Equal(67525.0, s.DonePerSecond);
        Assert.Equal((135050L, 135050L, 135050L, 135050L, 0L, 0L, 0L), (s.Total, s.Started, s.Done, s.Succeeded, s.Failed, s.Errored, s.TimedOut));
        Assert.Equal((135050L, 0L, 0L, 0L), (s.Status2xx, s.Status3xx, s.Status4xx, s.Status5xx));
        Assert.Equal(67525.0, s.SucceededPerSecond);
        Assert.Null(s.Problem("h2c"));
    }

    [Fact]
    public void TimedHttp1RunIsParsedAndMustHaveSpokenTheExpectedProtocol()
    {
        var s = H2loadOutput.ParseSummary(TimedHttp1);
        Assert.Equal("http/1.1", s.Protocol);
        Assert.Equal(41493L, s.Succeeded);
        Assert.Equal(41493.0, s.SucceededPerSecond);
        Assert.Null(s.Problem("http/1.1"));
        Assert.Contains("spoke http/1.1, not h2c", s.Problem("h2c"));
    }

    [Fact]
    public void ErroredRequestsAreAFailureNotThroughput()
    {
        var s = H2loadOutput.ParseSummary(Http2AgainstHttp1Server);
        Assert.Equal((200L, 0L, 0L, 200L, 200L), (s.Total, s.Done, s.Succeeded, s.Failed, s.Errored));
        Assert.Equal(0, s.SucceededPerSecond);
        var problem = s.Problem("h2c");
        Assert.NotNull(problem);
        Assert.Contains("200 errored", problem);
    }

    [Fact]
    public void ErrorAnswersAreNotThroughputEvenWhenH2loadCountsThemAsDone()
    {
        var s = H2loadOutput.ParseSummary(AllAnswered503);
        Assert.Equal(69930.07, s.DonePerSecond); // h2load's own rate counts the 503s
        Assert.Equal((200L, 0L, 200L, 200L), (s.Done, s.Succeeded, s.Failed, s.Status5xx));
        Assert.Equal(0, s.SucceededPerSecond);
        Assert.Contains("no request succeeded", s.Problem("h2c"));
    }

    [Fact]
    public void SomeFailedRequestsFailTheRunAndOnlySuccessesCountAsThroughput()
    {
        var s = H2loadOutput.ParseSummary(OneIn16Answered503);
        Assert.Equal((84602L, 79161L, 5441L, 5441L), (s.Done, s.Succeeded, s.Failed, s.Status5xx));
        Assert.Equal(79161.0, s.SucceededPerSecond, precision: 6); // 84,602 done/s × 79,161 / 84,602
        var problem = s.Problem("h2c");
        Assert.NotNull(problem);
        Assert.Contains("requests failed", problem);
        Assert.Contains("5,441 failed", problem);
    }

    [Fact]
    public void RunWhereNoConnectionCameUpIsAFailure()
    {
        var s = H2loadOutput.ParseSummary(ConnectionRefused);
        Assert.Null(s.Protocol);
        Assert.Equal((0L, 0L, 0L), (s.Total, s.Done, s.Failed));
        Assert.Equal("no request completed", s.Problem("h2c"));
    }

    [Fact]
    public void OutputWithoutASummaryIsRejected()
    {
        // h2load http:// prints only "invalid URI: http://" on stderr and nothing on stdout (exit 1).
        Assert.Throws<FormatException>(() => H2loadOutput.ParseSummary(""));
        Assert.Throws<FormatException>(() => H2loadOutput.ParseSummary(TimedHttp2[..TimedHttp2.IndexOf("finished in", StringComparison.Ordinal)]));
    }

    [Fact]
    public void RequestLogGivesSortedTimesAndTheActiveSpan()
    {
        var log = H2loadOutput.ParseRequestLog(TimedHttp2Log);
        Assert.Equal(new long[] { 302, 303, 525, 581, 583, 586, 710 }, log.SortedMicros);
        Assert.Equal(1795719936794893L, log.FirstStartMicros);
        Assert.Equal(1795719938794567L + 302, log.LastEndMicros);
        Assert.Equal(2.0, log.ActiveSeconds, precision: 2);
        Assert.Equal(581, log.Percentile(50));
        Assert.Equal(710, log.Percentile(99));
        Assert.Null(log.Problem(durationSeconds: 2));
    }

    [Fact]
    public void RequestsEndingEarlyAreAFailureThoughH2loadCountsNoneAsFailed()
    {
        var s = H2loadOutput.ParseSummary(ServerKilledMidRun);
        Assert.Null(s.Problem("h2c")); // h2load: 133,601 succeeded, 0 failed — the lost requests are not counted
        var log = H2loadOutput.ParseRequestLog(ServerKilledMidRunLog);
        Assert.Equal(1.0, log.ActiveSeconds, precision: 2);
        var problem = log.Problem(durationSeconds: 2);
        Assert.NotNull(problem);
        Assert.Contains("requests stopped 1.0 s into the 2 s run", problem);
    }

    [Fact]
    public void EmptyRequestLogIsAFailure()
    {
        var log = H2loadOutput.ParseRequestLog([]);
        Assert.Empty(log.SortedMicros);
        Assert.True(double.IsNaN(log.Percentile(50)));
        Assert.Equal("no request in the log", log.Problem(2));
    }

    [Fact]
    public void MalformedRequestLogLineIsRejected()
    {
        Assert.Throws<FormatException>(() => H2loadOutput.ParseRequestLog(["1795719936794916 200 525"]));
        Assert.Throws<FormatException>(() => H2loadOutput.ParseRequestLog(["1795719936794916\t200\t-5"]));
    }

    [Theory]
    [InlineData(0, 1)]
    [InlineData(1, 1)]
    [InlineData(50, 50)]
    [InlineData(50.5, 51)]
    [InlineData(99, 99)]
    [InlineData(99.9, 100)]
    [InlineData(100, 100)]
    public void PercentileIsTheNearestRank(double p, long expected)
    {
        long[] oneToHundred = [.. Enumerable.Range(1, 100).Select(i => (long)i)];
        Assert.Equal(expected, H2loadOutput.Percentile(oneToHundred, p));
    }
}

using Ambient.Config.Routes;
using Ambient.Waypoint.Resilience;

namespace Ambient.Tests.Waypoint;

/// <summary>A clock the test moves by hand.</summary>
internal sealed class ManualClock : TimeProvider
{
    private DateTimeOffset _now = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    public void Advance(TimeSpan by) => _now += by;
    public override DateTimeOffset GetUtcNow() => _now;
    public override long TimestampFrequency => TimeSpan.TicksPerSecond;
    public override long GetTimestamp() => _now.UtcTicks;
}

public class ResilienceRetryTests
{
    [Theory]
    [InlineData(1, 503, true)]
    [InlineData(2, 503, true)]
    [InlineData(3, 503, false)] // two retries used
    [InlineData(1, 500, true)]
    [InlineData(1, 502, false)]
    [InlineData(1, 200, false)]
    [InlineData(1, 9999, false)]
    public void ShouldRetry_ByCodeAndAttempts(int attemptsMade, int status, bool expected)
    {
        var policy = RetryPolicy.From(new RouteRetry { Codes = [500, 503], Attempts = 2, Backoff = TimeSpan.FromMilliseconds(10) });
        Assert.Equal(expected, policy.ShouldRetry(attemptsMade, status));
    }

    [Fact]
    public void ZeroAttempts_NeverRetries_DefaultsAreIstios()
    {
        var none = RetryPolicy.From(new RouteRetry { Codes = [503], Attempts = 0 });
        Assert.False(none.ShouldRetry(1, 503));
        Assert.False(none.ShouldRetryConnectFailure(1));
        var defaults = RetryPolicy.From(null);
        Assert.Equal(2, defaults.Retries);
        Assert.True(defaults.ShouldRetry(1, 503));
        Assert.True(defaults.ShouldRetryConnectFailure(2));
        Assert.False(defaults.ShouldRetryConnectFailure(3));
    }

    [Fact]
    public void Backoff_ExponentialWithJitter_BetweenBaseAndTenTimesBase()
    {
        var policy = new RetryPolicy([503], 10, TimeSpan.FromMilliseconds(100));
        var random = new Random(5);
        for (var attempt = 1; attempt <= 8; attempt++)
        {
            var low = Math.Min(100 * (1 << (attempt - 1)), 1000);
            var high = Math.Min(low * 2, 1000);
            for (var i = 0; i < 200; i++)
            {
                var ms = policy.Backoff(attempt, random).TotalMilliseconds;
                Assert.InRange(ms, low, Math.Max(low, high));
            }
        }
        Assert.Equal(TimeSpan.Zero, RetryPolicy.None.Backoff(1, random));
    }

    [Fact]
    public void Backoff_JitterSpreads()
    {
        var policy = new RetryPolicy([503], 3, TimeSpan.FromMilliseconds(100));
        var random = new Random(1);
        var values = Enumerable.Range(0, 100).Select(_ => policy.Backoff(2, random)).Distinct().Count();
        Assert.True(values > 50);
    }

    [Theory]
    [InlineData(null, null, 0, null)]
    [InlineData(10_000, null, 4_000, 6_000)]
    [InlineData(10_000, 2_000, 4_000, 2_000)]
    [InlineData(10_000, 2_000, 9_000, 1_000)]
    [InlineData(10_000, 2_000, 12_000, 0)]
    [InlineData(null, 2_000, 60_000, 2_000)]
    [InlineData(0, 0, 60_000, null)] // 0s disables both
    public void Timeouts_AttemptBudget(int? requestMs, int? perAttemptMs, int elapsedMs, int? expectedMs)
    {
        var policy = TimeoutPolicy.From(new RouteTimeouts
        {
            Request = requestMs is null ? null : TimeSpan.FromMilliseconds(requestMs.Value),
            BackendRequest = perAttemptMs is null ? null : TimeSpan.FromMilliseconds(perAttemptMs.Value),
        });
        Assert.Equal(expectedMs is null ? null : TimeSpan.FromMilliseconds(expectedMs.Value), policy.AttemptBudget(TimeSpan.FromMilliseconds(elapsedMs)));
    }
}

public class ResilienceFaultTests
{
    [Fact]
    public void NoFault_DoesNothing() => Assert.Equal(FaultDecision.None, FaultDecision.Decide(null, new Random(1)));

    [Fact]
    public void HundredPercent_AlwaysFires_ZeroNever()
    {
        var random = new Random(1);
        var always = new FaultInjection { Delay = new FaultDelay(TimeSpan.FromSeconds(2), 100), Abort = new FaultAbort(503, null, 100) };
        var never = new FaultInjection { Delay = new FaultDelay(TimeSpan.FromSeconds(2), 0), Abort = new FaultAbort(null, 14, 0) };
        for (var i = 0; i < 1000; i++)
        {
            Assert.Equal(new FaultDecision(TimeSpan.FromSeconds(2), 503, null), FaultDecision.Decide(always, random));
            Assert.Equal(FaultDecision.None, FaultDecision.Decide(never, random));
        }
    }

    [Fact]
    public void Percentages_AreIndependentAndConverge()
    {
        var fault = new FaultInjection { Delay = new FaultDelay(TimeSpan.FromMilliseconds(5), 30), Abort = new FaultAbort(null, 14, 10.5) };
        var random = new Random(11);
        int delayed = 0, aborted = 0;
        for (var i = 0; i < 20_000; i++)
        {
            var decision = FaultDecision.Decide(fault, random);
            if (decision.Delay > TimeSpan.Zero) delayed++;
            if (decision.Aborts) { aborted++; Assert.Equal(14, decision.AbortGrpcStatus); }
        }
        Assert.InRange(delayed / 20_000.0, 0.28, 0.32);
        Assert.InRange(aborted / 20_000.0, 0.09, 0.12);
    }
}

public class ResilienceCircuitBreakerTests
{
    [Theory]
    [InlineData(CircuitResource.Connection)]
    [InlineData(CircuitResource.PendingRequest)]
    [InlineData(CircuitResource.Request)]
    [InlineData(CircuitResource.Retry)]
    public void Overflow_AtLimit_ReleaseOnDispose(CircuitResource resource)
    {
        var breaker = new CircuitBreaker(new ConnectionPoolSettings { MaxConnections = 2, MaxPendingRequests = 2, MaxRequests = 2, MaxRetries = 2 });
        var a = breaker.TryEnter(resource);
        var b = breaker.TryEnter(resource);
        Assert.NotNull(a);
        Assert.NotNull(b);
        Assert.Null(breaker.TryEnter(resource));
        Assert.Equal(2, breaker.Count(resource));
        a!.Dispose();
        a.Dispose(); // idempotent
        Assert.Equal(1, breaker.Count(resource));
        Assert.NotNull(breaker.TryEnter(resource));
    }

    [Fact]
    public void ResourcesAreIndependent_UnsetIsUnlimited()
    {
        var breaker = new CircuitBreaker(new ConnectionPoolSettings { MaxRequests = 1 });
        Assert.NotNull(breaker.TryEnter(CircuitResource.Request));
        Assert.Null(breaker.TryEnter(CircuitResource.Request));
        for (var i = 0; i < 1000; i++) Assert.NotNull(breaker.TryEnter(CircuitResource.Connection));
    }

    [Fact]
    public void ConnectTimeout_FollowsTheConfig()
    {
        var breaker = new CircuitBreaker(new ConnectionPoolSettings { ConnectTimeout = TimeSpan.FromSeconds(2) });
        Assert.Equal(TimeSpan.FromSeconds(2), breaker.Connections.ConnectTimeout);
        breaker.UpdateLimits(new ConnectionPoolSettings { ConnectTimeout = TimeSpan.FromMilliseconds(250) });
        Assert.Equal(TimeSpan.FromMilliseconds(250), breaker.Connections.ConnectTimeout);
        breaker.UpdateLimits(null); // the DestinationRule went away: the HTTP client's own timeout again
        Assert.Null(breaker.Connections.ConnectTimeout);
    }

    [Fact]
    public void LoweredLimit_RefusesNewEntriesOnly()
    {
        var breaker = new CircuitBreaker(new ConnectionPoolSettings { MaxRequests = 5 });
        var leases = Enumerable.Range(0, 4).Select(_ => breaker.TryEnter(CircuitResource.Request)!).ToList();
        breaker.UpdateLimits(new ConnectionPoolSettings { MaxRequests = 2 });
        Assert.Null(breaker.TryEnter(CircuitResource.Request));
        foreach (var lease in leases) lease.Dispose();
        Assert.Equal(0, breaker.Count(CircuitResource.Request));
        Assert.NotNull(breaker.TryEnter(CircuitResource.Request));
    }

    [Fact]
    public void Concurrent_NeverExceedsLimit()
    {
        var breaker = new CircuitBreaker(new ConnectionPoolSettings { MaxRequests = 8 });
        var max = 0;
        Parallel.For(0, 20_000, new ParallelOptions { MaxDegreeOfParallelism = 4 }, _ =>
        {
            using var lease = breaker.TryEnter(CircuitResource.Request);
            if (lease is null) return;
            var now = breaker.Count(CircuitResource.Request);
            int seen;
            while ((seen = Volatile.Read(ref max)) < now && Interlocked.CompareExchange(ref max, now, seen) != seen) { }
        });
        Assert.InRange(max, 1, 8);
        Assert.Equal(0, breaker.Count(CircuitResource.Request));
    }

    [Fact]
    public void Registry_ByHost_LimitsFollowConfig()
    {
        var registry = new CircuitBreakerRegistry();
        registry.Update([new DestinationRule { Name = "r", Namespace = "default", Host = "reviews", ConnectionPool = new ConnectionPoolSettings { MaxRequests = 1 } }]);
        var breaker = registry.For("reviews.default.svc.cluster.local");
        Assert.Equal(1, breaker.Limit(CircuitResource.Request));
        Assert.Same(breaker, registry.For("REVIEWS.default.svc.cluster.local"));
        registry.Update([]);
        Assert.Equal(int.MaxValue, breaker.Limit(CircuitResource.Request));
        Assert.Equal(int.MaxValue, registry.For("other.default.svc.cluster.local").Limit(CircuitResource.Connection));
    }
}

public class ResilienceOutlierTests
{
    private static OutlierDetector Detector(ManualClock clock, int consecutive = 3, int gateway = 0, int maxPercent = 100, int baseSeconds = 30, int intervalSeconds = 10) =>
        new(new OutlierDetectionSettings
        {
            Consecutive5xxErrors = consecutive, ConsecutiveGatewayErrors = gateway, MaxEjectionPercent = maxPercent,
            BaseEjectionTime = TimeSpan.FromSeconds(baseSeconds), Interval = TimeSpan.FromSeconds(intervalSeconds),
        }, clock);

    [Fact]
    public void Consecutive5xx_Ejects_SuccessResetsTheCount()
    {
        var clock = new ManualClock();
        var detector = Detector(clock);
        detector.UpdateEndpoints(["a", "b"]);
        Assert.False(detector.ReportStatus("a", 500));
        Assert.False(detector.ReportStatus("a", 503));
        Assert.False(detector.ReportStatus("a", 200)); // resets
        Assert.False(detector.ReportStatus("a", 500));
        Assert.False(detector.ReportStatus("a", 404)); // 4xx is a success for outlier detection
        Assert.False(detector.ReportStatus("a", 500));
        Assert.False(detector.ReportStatus("a", 500));
        Assert.True(detector.ReportStatus("a", 500));
        Assert.True(detector.IsEjected("a"));
        Assert.False(detector.IsEjected("b"));
    }

    [Fact]
    public void EjectionTime_GrowsWithEjections_ReadmitsAfterIt()
    {
        var clock = new ManualClock();
        var detector = Detector(clock, consecutive: 1, intervalSeconds: 1000);
        detector.UpdateEndpoints(["a", "b"]);
        Assert.True(detector.ReportConnectFailure("a"));
        clock.Advance(TimeSpan.FromSeconds(29));
        Assert.True(detector.IsEjected("a"));
        clock.Advance(TimeSpan.FromSeconds(1));
        Assert.False(detector.IsEjected("a")); // 30s = base × 1
        Assert.True(detector.ReportStatus("a", 500));
        Assert.Equal(2, detector.EjectionCount("a"));
        clock.Advance(TimeSpan.FromSeconds(59));
        Assert.True(detector.IsEjected("a"));
        clock.Advance(TimeSpan.FromSeconds(1));
        Assert.False(detector.IsEjected("a")); // 60s = base × 2
    }

    [Fact]
    public void Multiplier_DecaysPerQuietInterval()
    {
        var clock = new ManualClock();
        var detector = Detector(clock, consecutive: 1, intervalSeconds: 10);
        detector.UpdateEndpoints(["a", "b"]);
        detector.ReportStatus("a", 500);
        clock.Advance(TimeSpan.FromSeconds(30));
        detector.ReportStatus("a", 500);
        Assert.Equal(2, detector.EjectionCount("a"));
        clock.Advance(TimeSpan.FromSeconds(60 + 25)); // back for 25s: two quiet intervals
        detector.ReportStatus("a", 500);
        Assert.Equal(1, detector.EjectionCount("a"));
    }

    [Fact]
    public void EjectionTime_IsCappedAt300s()
    {
        var clock = new ManualClock();
        var detector = Detector(clock, consecutive: 1, baseSeconds: 200, intervalSeconds: 100_000);
        detector.UpdateEndpoints(["a", "b"]);
        detector.ReportStatus("a", 500);
        clock.Advance(TimeSpan.FromSeconds(200));
        detector.ReportStatus("a", 500); // 400s → capped at 300s
        clock.Advance(TimeSpan.FromSeconds(300));
        Assert.False(detector.IsEjected("a"));
    }

    [Fact]
    public void GatewayErrors_CountOnly502To504()
    {
        var clock = new ManualClock();
        var detector = Detector(clock, consecutive: 0, gateway: 2);
        detector.UpdateEndpoints(["a", "b"]);
        Assert.False(detector.ReportStatus("a", 502));
        Assert.False(detector.ReportStatus("a", 500)); // a 5xx that is not a gateway error breaks the run
        Assert.False(detector.ReportStatus("a", 504));
        Assert.True(detector.ReportStatus("a", 503));
    }

    [Theory]
    [InlineData(10, 10, 1)]  // 10% of 10: one
    [InlineData(50, 10, 5)]
    [InlineData(10, 3, 1)]   // below one endpoint's share: still one (first ejection always allowed)
    [InlineData(0, 10, 0)]   // 0 disables ejection
    [InlineData(100, 4, 4)]
    public void MaxEjectionPercent_BoundsEjectedEndpoints(int percent, int endpoints, int expectedEjected)
    {
        var clock = new ManualClock();
        var detector = Detector(clock, consecutive: 1, maxPercent: percent);
        var names = Enumerable.Range(0, endpoints).Select(i => $"e{i}").ToArray();
        detector.UpdateEndpoints(names);
        foreach (var name in names) detector.ReportStatus(name, 500);
        Assert.Equal(expectedEjected, names.Count(detector.IsEjected));
    }

    [Fact]
    public void DepartedEndpoints_AreForgotten()
    {
        var clock = new ManualClock();
        var detector = Detector(clock, consecutive: 1);
        detector.UpdateEndpoints(["a", "b"]);
        detector.ReportStatus("a", 500);
        detector.UpdateEndpoints(["b"]);
        Assert.False(detector.IsEjected("a"));
    }
}

public class ResilienceTokenBucketTests
{
    [Fact]
    public void StartsFull_RefillsInSteps_CappedAtMax()
    {
        var clock = new ManualClock();
        var bucket = new TokenBucket(new LocalRateLimit { MaxTokens = 3, TokensPerFill = 2, FillInterval = TimeSpan.FromSeconds(1) }, clock);
        Assert.True(bucket.TryTake());
        Assert.True(bucket.TryTake());
        Assert.True(bucket.TryTake());
        Assert.False(bucket.TryTake());
        clock.Advance(TimeSpan.FromMilliseconds(999));
        Assert.False(bucket.TryTake()); // no partial fills
        clock.Advance(TimeSpan.FromMilliseconds(1));
        Assert.Equal(2, bucket.Available);
        clock.Advance(TimeSpan.FromSeconds(10));
        Assert.Equal(3, bucket.Available); // capped
    }

    [Fact]
    public void PartialIntervalsCarryOver()
    {
        var clock = new ManualClock();
        var bucket = new TokenBucket(new LocalRateLimit { MaxTokens = 10, TokensPerFill = 1, FillInterval = TimeSpan.FromSeconds(1) }, clock);
        while (bucket.TryTake()) { }
        clock.Advance(TimeSpan.FromMilliseconds(1500));
        Assert.True(bucket.TryTake());
        clock.Advance(TimeSpan.FromMilliseconds(500)); // 2.0s since empty: the second fill is due
        Assert.True(bucket.TryTake());
        Assert.False(bucket.TryTake());
    }

    [Fact]
    public void Concurrent_TakesExactlyTheTokens()
    {
        var clock = new ManualClock();
        var bucket = new TokenBucket(new LocalRateLimit { MaxTokens = 1000, TokensPerFill = 1, FillInterval = TimeSpan.FromHours(1) }, clock);
        var taken = 0;
        Parallel.For(0, 5000, new ParallelOptions { MaxDegreeOfParallelism = 4 }, _ =>
        {
            if (bucket.TryTake()) Interlocked.Increment(ref taken);
        });
        Assert.Equal(1000, taken);
    }
}

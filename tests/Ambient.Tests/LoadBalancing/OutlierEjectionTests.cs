using Ambient.Config;
using Ambient.LoadBalancing;

namespace Ambient.Tests.LoadBalancing;

public sealed class OutlierEjectionTests
{
    private readonly StepClock _clock = new();
    private readonly EndpointHealthRegistry _health;
    private readonly LoadBalancer _balancer;
    private readonly EndpointTarget _endpoint = Lb.Endpoint("flaky");
    private readonly EndpointTarget _other = Lb.Endpoint("steady");
    private readonly Workload _client = Lb.Client();
    private readonly Random _rng = new(11);

    public OutlierEjectionTests()
    {
        _health = new EndpointHealthRegistry(time: _clock);
        _balancer = new LoadBalancer(_health);
    }

    private EndpointState State => _health.Get(_endpoint).State;

    [Fact]
    public void ThreeConsecutiveFailures_Eject()
    {
        _balancer.ReportFailure(_endpoint);
        _balancer.ReportFailure(_endpoint);
        Assert.Equal(EndpointState.Admitted, State);
        Assert.Equal(2, _health.Get(_endpoint).ConsecutiveFailures);
        Assert.Equal(0, _health.NotAdmittedCount);

        _balancer.ReportFailure(_endpoint);

        Assert.Equal(EndpointState.Ejected, State);
        Assert.Equal(1, _health.NotAdmittedCount);
        Assert.Equal(TimeSpan.FromSeconds(1), _health.Get(_endpoint).Backoff);
        for (var i = 0; i < 100; i++)
            Assert.Equal(_other, _balancer.Pick([_endpoint, _other], _client, _rng).Endpoint);
    }

    [Fact]
    public void Success_ResetsTheFailureStreak()
    {
        _balancer.ReportFailure(_endpoint);
        _balancer.ReportFailure(_endpoint);
        _balancer.ReportSuccess(_endpoint);
        Assert.Equal(0, _health.Get(_endpoint).ConsecutiveFailures);
        _balancer.ReportFailure(_endpoint);
        _balancer.ReportFailure(_endpoint);

        Assert.Equal(EndpointState.Admitted, State);
    }

    [Fact]
    public void SuccessForAnUnknownEndpoint_RecordsNothing()
    {
        _balancer.ReportSuccess(_endpoint);
        Assert.Equal(0, _health.Count);
    }

    [Fact]
    public void BackoffDoublesPerReEjection_UpToTheCap()
    {
        Lb.Eject(_health, _endpoint);
        double[] expected = [1, 2, 4, 8, 16, 32, 60, 60, 60];
        foreach (var seconds in expected)
        {
            var entry = _health.Get(_endpoint);
            Assert.Equal(TimeSpan.FromSeconds(seconds), entry.Backoff);
            _clock.Advance(TimeSpan.FromSeconds(seconds) - TimeSpan.FromMilliseconds(1));
            Assert.Equal(EndpointState.Ejected, State);
            _clock.Advance(TimeSpan.FromMilliseconds(1));
            Assert.Equal(EndpointState.HalfOpen, State);

            _balancer.ReportFailure(_endpoint); // the half-open trial fails: one failure re-ejects
            Assert.Equal(EndpointState.Ejected, State);
        }
        Assert.Equal(1, _health.NotAdmittedCount);
    }

    [Fact]
    public void FailuresWhileEjected_DoNotExtendTheEjection()
    {
        Lb.Eject(_health, _endpoint);
        _clock.Advance(TimeSpan.FromMilliseconds(500));
        for (var i = 0; i < 10; i++) _balancer.ReportFailure(_endpoint); // connects that were already in flight

        _clock.Advance(TimeSpan.FromMilliseconds(500));

        Assert.Equal(EndpointState.HalfOpen, State);
        Assert.Equal(1, _health.Get(_endpoint).Ejections);
    }

    [Fact]
    public void AfterTheBackoff_OnePickTriesTheEndpoint_AndSuccessReadmitsIt()
    {
        EndpointTarget[] endpoints = [_endpoint, _other];
        Lb.Eject(_health, _endpoint);
        _clock.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(EndpointState.HalfOpen, State);

        // Make the half-open endpoint the p2c winner so the first pick deterministically tries it.
        using var busy = _balancer.Lease(_other);
        var trial = _balancer.Pick(endpoints, _client, _rng);
        Assert.Equal((_endpoint, true), (trial.Endpoint, trial.Probe));
        Assert.EndsWith(" probe", trial.Reason);

        // The trial is in flight: nobody else is sent there.
        for (var i = 0; i < 50; i++)
        {
            var pick = _balancer.Pick(endpoints, _client, _rng);
            Assert.Equal((_other, false), (pick.Endpoint, pick.Probe));
        }

        _balancer.ReportSuccess(_endpoint);

        Assert.Equal(EndpointState.Admitted, State);
        Assert.Equal(0, _health.NotAdmittedCount);
        Assert.Equal(_endpoint, _balancer.Pick(endpoints, _client, _rng).Endpoint);
        // The back-off starts over.
        Lb.Eject(_health, _endpoint);
        Assert.Equal(TimeSpan.FromSeconds(1), _health.Get(_endpoint).Backoff);
    }

    [Fact]
    public void HalfOpenTrialFailure_ReEjectsWithDoubledBackoff()
    {
        Lb.Eject(_health, _endpoint);
        _clock.Advance(TimeSpan.FromSeconds(1));
        var trial = _balancer.Pick([_endpoint], _client, _rng);
        Assert.True(trial.Probe);

        _balancer.ReportFailure(_endpoint);

        Assert.Equal(EndpointState.Ejected, State);
        Assert.Equal(TimeSpan.FromSeconds(2), _health.Get(_endpoint).Backoff);
        Assert.True(_balancer.Pick([_endpoint], _client, _rng).Panic);
    }

    [Fact]
    public void AnUnreportedTrial_ExpiresAfterTheProbeTimeout()
    {
        Lb.Eject(_health, _endpoint);
        _clock.Advance(TimeSpan.FromSeconds(1));
        Assert.True(_balancer.Pick([_endpoint], _client, _rng).Probe);
        Assert.True(_balancer.Pick([_endpoint], _client, _rng).Panic); // the only endpoint, trial in flight

        _clock.Advance(_health.Options.ProbeTimeout);

        var retry = _balancer.Pick([_endpoint], _client, _rng);
        Assert.Equal((false, true), (retry.Panic, retry.Probe));
    }

    [Fact]
    public void SuccessWhileEjected_ReadmitsAtOnce()
    {
        Lb.Eject(_health, _endpoint);
        _balancer.ReportSuccess(_endpoint); // e.g. a panic-mode connect got through

        Assert.Equal(EndpointState.Admitted, State);
        Assert.Equal(0, _health.NotAdmittedCount);
    }

    [Fact]
    public void CustomThresholdAndTimes_AreHonoured()
    {
        var health = new EndpointHealthRegistry(new OutlierDetectionOptions
        {
            ConsecutiveFailures = 1,
            BaseEjectionTime = TimeSpan.FromSeconds(5),
            MaxEjectionTime = TimeSpan.FromSeconds(12),
        }, _clock);

        health.ReportFailure(_endpoint);
        Assert.Equal(EndpointState.Ejected, health.Get(_endpoint).State);
        Assert.Equal(TimeSpan.FromSeconds(5), health.Get(_endpoint).Backoff);
        _clock.Advance(TimeSpan.FromSeconds(5));
        health.ReportFailure(_endpoint);
        Assert.Equal(TimeSpan.FromSeconds(10), health.Get(_endpoint).Backoff);
        _clock.Advance(TimeSpan.FromSeconds(10));
        health.ReportFailure(_endpoint);
        Assert.Equal(TimeSpan.FromSeconds(12), health.Get(_endpoint).Backoff);
    }

    [Theory]
    [InlineData(0, 1, 60)]
    [InlineData(3, 0, 60)]
    [InlineData(3, 10, 5)]
    public void InvalidOptions_AreRejected(int failures, int baseSeconds, int maxSeconds) =>
        Assert.Throws<ArgumentOutOfRangeException>(() => new EndpointHealthRegistry(new OutlierDetectionOptions
        {
            ConsecutiveFailures = failures,
            BaseEjectionTime = TimeSpan.FromSeconds(baseSeconds),
            MaxEjectionTime = TimeSpan.FromSeconds(maxSeconds),
        }));

    [Fact]
    public void EjectionTime_DoublesAndCaps()
    {
        var options = OutlierDetectionOptions.Default;
        Assert.Equal(
            [1, 2, 4, 8, 16, 32, 60, 60],
            Enumerable.Range(1, 8).Select(k => options.EjectionTime(k).TotalSeconds));
        Assert.Equal(TimeSpan.FromSeconds(60), options.EjectionTime(int.MaxValue));
    }
}

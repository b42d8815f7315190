using Ambient.Identity;
using Microsoft.Extensions.Logging;

namespace Ambient.Tests.Identity;

public sealed class CertificateManagerTests : IDisposable
{
    private static readonly SpiffeId Id = new("cluster.local", "default", "web");
    private static readonly DateTimeOffset Start = new(2030, 1, 1, 0, 0, 0, TimeSpan.Zero);

    private readonly ManualTimeProvider _time = new(Start);
    private readonly MeshCa _ca;
    private readonly ScriptedIssuer _issuer;
    private readonly ListLogger _log = new();

    public CertificateManagerTests()
    {
        _ca = MeshCa.Create(_time);
        _issuer = new ScriptedIssuer(new LocalCaIssuer(_ca, "cluster.local", TimeSpan.FromHours(24), _time));
    }

    public void Dispose() => _ca.Dispose();

    [Fact]
    public async Task Renews_at_half_life_and_keeps_the_previous_certificate_until_it_expires()
    {
        await using var manager = new CertificateManager(_issuer, _log, _time);

        var first = await manager.GetAsync(Id);
        Assert.Equal(Start.AddMinutes(-1), first.NotBefore);
        Assert.Equal(Start.AddHours(24), first.NotAfter);
        var halfLife = Start.AddMinutes(-1) + (TimeSpan.FromHours(24) + TimeSpan.FromMinutes(1)) / 2;
        Assert.Equal(halfLife, first.RenewalTime);
        Assert.Same(first, await manager.GetAsync(Id));

        await _time.WaitForTimersAsync();
        Assert.Equal([halfLife], _time.PendingTimers);

        _time.Advance(halfLife - Start - TimeSpan.FromSeconds(1));
        Assert.Equal(1, _issuer.Calls);
        Assert.Same(first, await manager.GetAsync(Id));
        Assert.Null(manager.GetPrevious(Id));

        _time.Advance(TimeSpan.FromSeconds(1));
        await WaitUntil(() => _issuer.Calls == 2 && manager.GetPrevious(Id) is not null);
        var second = await manager.GetAsync(Id);
        Assert.NotSame(first, second);
        Assert.NotEqual(first.SerialNumber, second.SerialNumber);
        Assert.Equal(halfLife.AddMinutes(-1), second.NotBefore);
        Assert.Same(first, manager.GetPrevious(Id));

        // From now on renewals fail: the first certificate stays exposed as "previous" until
        // its own expiry, then disappears; the second one remains current.
        _issuer.Failing = true;
        await RunUntil(first.NotAfter - TimeSpan.FromSeconds(1));
        Assert.True(_issuer.Calls > 2);
        Assert.Same(first, manager.GetPrevious(Id));
        await RunUntil(first.NotAfter);
        Assert.Null(manager.GetPrevious(Id));
        Assert.Same(second, await manager.GetAsync(Id));

        var infos = _log.MessagesAt(LogLevel.Information).ToList();
        Assert.Equal(2, infos.Count);
        Assert.Contains($"Issued certificate for {Id}: serial {first.SerialNumber}, valid until {first.NotAfter:u}", infos[0]);
        Assert.Contains($"Renewed certificate for {Id}: serial {second.SerialNumber}, valid until {second.NotAfter:u}", infos[1]);
        Assert.Contains($"previous serial {first.SerialNumber}", infos[1]);
        Assert.Contains(_log.MessagesAt(LogLevel.Warning), m => m.Contains($"Certificate issuance for {Id} failed", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Failing_issuer_backs_off_from_half_a_second_doubling_to_150_seconds()
    {
        _issuer.Failing = true;
        await using var manager = new CertificateManager(_issuer, _log, _time);

        var ex = await Assert.ThrowsAsync<CertificateUnavailableException>(() => manager.GetAsync(Id).AsTask());
        Assert.Equal(Id, ex.Identity);
        Assert.Contains("CA is down", ex.Message);

        double[] expectedSeconds = [0.5, 1, 2, 4, 8, 16, 32, 64, 128, 150, 150, 150];
        for (int i = 0; i < expectedSeconds.Length; i++)
        {
            await _time.WaitForTimersAsync();
            var delay = Assert.Single(_time.PendingTimers) - _time.GetUtcNow();
            Assert.Equal(TimeSpan.FromSeconds(expectedSeconds[i]), delay);
            Assert.Equal(i + 1, _issuer.Calls);
            _time.Advance(delay);
            await WaitUntil(() => _issuer.Calls == i + 2);
        }
    }

    [Fact]
    public void Backoff_sequence_is_capped()
    {
        var delays = Enumerable.Range(1, 40).Select(RetryBackoff.Default.GetDelay).ToList();
        Assert.Equal(TimeSpan.FromMilliseconds(500), delays[0]);
        Assert.Equal(TimeSpan.FromSeconds(128), delays[8]);
        Assert.All(delays.Skip(9), d => Assert.Equal(TimeSpan.FromSeconds(150), d));
    }

    [Fact]
    public async Task Fails_fast_while_the_issuer_is_down_and_recovers_in_the_background()
    {
        _issuer.Failing = true;
        await using var manager = new CertificateManager(_issuer, _log, _time);

        await Assert.ThrowsAsync<CertificateUnavailableException>(() => manager.GetAsync(Id).AsTask());
        // A second caller does not trigger another attempt: the background loop owns retries.
        await Assert.ThrowsAsync<CertificateUnavailableException>(() => manager.GetAsync(Id).AsTask());
        Assert.Equal(1, _issuer.Calls);

        _issuer.Failing = false;
        await _time.WaitForTimersAsync();
        _time.Advance(TimeSpan.FromMilliseconds(500));
        await WaitUntil(() => manager.TryGetCurrent(Id, out _));
        Assert.Equal(2, _issuer.Calls);
        Assert.Equal(Id, (await manager.GetAsync(Id)).Identity);
    }

    [Fact]
    public async Task Concurrent_first_use_issues_once()
    {
        await using var manager = new CertificateManager(_issuer, _log, _time);

        var certs = await Task.WhenAll(Enumerable.Range(0, 32).Select(_ => Task.Run(() => manager.GetAsync(Id).AsTask())));

        Assert.All(certs, c => Assert.Same(certs[0], c));
        Assert.Equal(1, _issuer.Calls);
        Assert.Equal([Id], manager.Identities);
    }

    [Fact]
    public async Task Renews_immediately_when_the_clock_jumps_past_expiry()
    {
        await using var manager = new CertificateManager(_issuer, _log, _time);
        var first = await manager.GetAsync(Id);
        await _time.WaitForTimersAsync();

        _time.Jump(TimeSpan.FromHours(30)); // e.g. resumed from suspend: no timer fired
        Assert.False(manager.TryGetCurrent(Id, out _));
        var renewed = await manager.GetAsync(Id);

        Assert.NotSame(first, renewed);
        Assert.True(renewed.IsValidAt(_time.GetUtcNow()));
        Assert.Null(manager.GetPrevious(Id)); // the replaced one had already expired
    }

    [Fact]
    public async Task Remove_and_dispose_stop_the_renewal_loops()
    {
        var manager = new CertificateManager(_issuer, _log, _time);
        var other = new SpiffeId("cluster.local", "default", "other");
        await manager.GetAsync(Id);
        await manager.GetAsync(other);
        await _time.WaitForTimersAsync(2);

        Assert.True(await manager.RemoveAsync(other));
        Assert.Equal([Id], manager.Identities);
        Assert.Single(_time.PendingTimers);

        await manager.DisposeAsync();
        Assert.Empty(_time.PendingTimers);
        await Assert.ThrowsAsync<ObjectDisposedException>(() => manager.GetAsync(Id).AsTask());
    }

    [Fact]
    public async Task Certificate_for_the_wrong_identity_is_rejected()
    {
        var wrong = new WrongIdentityIssuer(_ca);
        await using var manager = new CertificateManager(wrong, _log, _time);

        var ex = await Assert.ThrowsAsync<CertificateUnavailableException>(() => manager.GetAsync(Id).AsTask());
        Assert.Contains("instead of", ex.Message);
    }

    private async Task RunUntil(DateTimeOffset target)
    {
        while (_time.GetUtcNow() < target)
        {
            await _time.WaitForTimersAsync();
            var next = _time.PendingTimers[0];
            _time.Advance((next < target ? next : target) - _time.GetUtcNow());
        }
    }

    private static async Task WaitUntil(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow.AddSeconds(5);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "condition not met within 5 s");
            await Task.Delay(1);
        }
    }

    private sealed class ScriptedIssuer(ICertificateIssuer inner) : ICertificateIssuer
    {
        private int _calls;

        public int Calls => Volatile.Read(ref _calls);

        public volatile bool Failing;

        public Task<WorkloadCertificate> IssueAsync(SpiffeId id, CancellationToken ct)
        {
            Interlocked.Increment(ref _calls);
            return Failing
                ? Task.FromException<WorkloadCertificate>(new IOException("CA is down"))
                : inner.IssueAsync(id, ct);
        }
    }

    private sealed class WrongIdentityIssuer(MeshCa ca) : ICertificateIssuer
    {
        public Task<WorkloadCertificate> IssueAsync(SpiffeId id, CancellationToken ct) =>
            Task.FromResult(ca.Issue(new SpiffeId(id.TrustDomain, id.Namespace, "someone-else"),
                new DateTimeOffset(2029, 12, 31, 0, 0, 0, TimeSpan.Zero), new DateTimeOffset(2030, 1, 2, 0, 0, 0, TimeSpan.Zero)));
    }
}

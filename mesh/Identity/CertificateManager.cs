using System.Collections.Concurrent;
using System.Diagnostics.CodeAnalysis;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Ambient.Identity;

/// <summary>
/// Holds one workload certificate per identity and keeps it fresh. <see cref="GetAsync"/> issues on
/// first use; afterwards a background loop per identity renews at half-life
/// (<see cref="WorkloadCertificate.RenewalTime"/>), retrying failures with exponential backoff
/// (<see cref="RetryBackoff.Default"/>: 0.5 s doubling to 150 s). The replaced certificate stays
/// available through <see cref="GetPrevious"/> until its own expiry. All timing goes through the
/// injected <see cref="TimeProvider"/>.
/// </summary>
public sealed class CertificateManager : IAsyncDisposable
{
    // Timers are armed for at most this long and re-armed, so a long lifetime never exceeds timer
    // limits and a wall-clock jump is noticed within a day at worst.
    private static readonly TimeSpan MaxTimerDelay = TimeSpan.FromDays(1);

    private readonly ICertificateIssuer _issuer;
    private readonly ILogger _log;
    private readonly TimeProvider _time;
    private readonly RetryBackoff _backoff;
    private readonly CancellationTokenSource _stopping = new();
    private readonly ConcurrentDictionary<SpiffeId, Entry> _entries = new();
    private readonly Lock _gate = new();
    private bool _disposed;

    public CertificateManager(
        ICertificateIssuer issuer,
        ILogger? log = null,
        TimeProvider? time = null,
        RetryBackoff? backoff = null)
    {
        _issuer = issuer ?? throw new ArgumentNullException(nameof(issuer));
        _log = log ?? NullLogger.Instance;
        _time = time ?? TimeProvider.System;
        _backoff = backoff ?? RetryBackoff.Default;
    }

    /// <summary>The identities currently managed (each has a renewal loop).</summary>
    public IReadOnlyCollection<SpiffeId> Identities => [.. _entries.Keys];

    /// <summary>
    /// The current certificate for <paramref name="id"/>. The first call for an identity starts its
    /// renewal loop and waits for the first issuance attempt; later calls complete synchronously.
    /// Throws <see cref="CertificateUnavailableException"/> (with the issuer's error) when there is no
    /// unexpired certificate because issuance is failing; the loop keeps retrying in the background,
    /// so callers fail fast instead of piling onto a broken CA.
    /// </summary>
    public ValueTask<WorkloadCertificate> GetAsync(SpiffeId id, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(id);
        var entry = GetOrStart(id);
        var current = entry.Current;
        if (current is not null && _time.GetUtcNow() < current.NotAfter)
        {
            return ValueTask.FromResult(current);
        }

        return GetSlowAsync(entry, ct);
    }

    /// <summary>The current certificate if one has been issued and is unexpired; never issues or waits.</summary>
    public bool TryGetCurrent(SpiffeId id, [NotNullWhen(true)] out WorkloadCertificate? certificate)
    {
        certificate = _entries.TryGetValue(id, out var entry) ? entry.Current : null;
        if (certificate is not null && _time.GetUtcNow() < certificate.NotAfter)
        {
            return true;
        }

        certificate = null;
        return false;
    }

    /// <summary>The certificate replaced by the latest renewal, until its own expiry; otherwise null.</summary>
    public WorkloadCertificate? GetPrevious(SpiffeId id)
    {
        var previous = _entries.TryGetValue(id, out var entry) ? entry.Previous : null;
        return previous is not null && _time.GetUtcNow() < previous.NotAfter ? previous : null;
    }

    /// <summary>Stops managing <paramref name="id"/> (e.g. its last workload left the node).</summary>
    public async Task<bool> RemoveAsync(SpiffeId id)
    {
        if (!_entries.TryRemove(id, out var entry))
        {
            return false;
        }

        await entry.StopAsync().ConfigureAwait(false);
        return true;
    }

    public async ValueTask DisposeAsync()
    {
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
        }

        await _stopping.CancelAsync().ConfigureAwait(false);
        foreach (var entry in _entries.Values)
        {
            await entry.StopAsync().ConfigureAwait(false);
        }

        _entries.Clear();
        _stopping.Dispose();
    }

    private Entry GetOrStart(SpiffeId id)
    {
        if (_entries.TryGetValue(id, out var entry))
        {
            return entry;
        }

        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (!_entries.TryGetValue(id, out entry))
            {
                entry = new Entry(id, _stopping.Token);
                entry.Loop = Task.Run(() => RunAsync(entry));
                _entries[id] = entry;
            }

            return entry;
        }
    }

    private async ValueTask<WorkloadCertificate> GetSlowAsync(Entry entry, CancellationToken ct)
    {
        while (true)
        {
            var state = entry.Snapshot();
            var now = _time.GetUtcNow();
            if (state.Current is not null && now < state.Current.NotAfter)
            {
                return state.Current;
            }

            if (state.Stopped)
            {
                throw new ObjectDisposedException(nameof(CertificateManager), $"certificates for {entry.Id} are no longer managed");
            }

            if (state.LastError is not null)
            {
                var message = state.Current is null
                    ? $"no certificate for {entry.Id}: issuance failed {state.ConsecutiveFailures} time(s) and is retried in the background: {state.LastError.Message}"
                    : $"certificate for {entry.Id} expired at {state.Current.NotAfter:u} and renewal is failing: {state.LastError.Message}";
                throw new CertificateUnavailableException(entry.Id, message, state.LastError);
            }

            if (state.Current is not null)
            {
                // Renewed successfully last time yet expired now: the clock jumped (e.g. resume from
                // suspend) past the renewal timer. Renew right away rather than at the timer.
                entry.Wake();
            }

            await state.NextAttempt.WaitAsync(ct).ConfigureAwait(false);
        }
    }

    private async Task RunAsync(Entry entry)
    {
        var ct = entry.Stopping;
        int failures = 0;
        try
        {
            while (!ct.IsCancellationRequested)
            {
                entry.BeginAttempt();
                WorkloadCertificate certificate;
                try
                {
                    certificate = await _issuer.IssueAsync(entry.Id, ct).ConfigureAwait(false);
                    Validate(entry.Id, certificate);
                    // Build the SslStream context here, off the handshake path.
                    _ = certificate.CertificateContext;
                }
                catch (OperationCanceledException) when (ct.IsCancellationRequested)
                {
                    break;
                }
                catch (Exception ex)
                {
                    failures++;
                    var delay = _backoff.GetDelay(failures);
                    IdentityLog.IssuanceFailed(_log, entry.Id, failures, delay, ex);
                    entry.Failed(ex, failures);
                    await SleepAsync(entry, delay, wakeable: false).ConfigureAwait(false);
                    continue;
                }

                failures = 0;
                var previous = entry.Succeeded(certificate, _time.GetUtcNow());
                if (previous is null)
                {
                    IdentityLog.CertificateIssued(_log, entry.Id, certificate.SerialNumber, certificate.NotAfter, certificate.RenewalTime);
                }
                else
                {
                    IdentityLog.CertificateRenewed(_log, entry.Id, certificate.SerialNumber, certificate.NotAfter,
                        certificate.RenewalTime, previous.SerialNumber, previous.NotAfter);
                }

                // Never spin: even a certificate whose renewal time already passed waits a little.
                var renewAt = certificate.RenewalTime;
                var earliest = _time.GetUtcNow() + _backoff.Initial;
                await SleepUntilAsync(entry, renewAt > earliest ? renewAt : earliest).ConfigureAwait(false);
            }
        }
        finally
        {
            entry.Stopped();
        }
    }

    private void Validate(SpiffeId id, WorkloadCertificate certificate)
    {
        if (certificate is null)
        {
            throw new InvalidOperationException("issuer returned no certificate");
        }

        if (certificate.Identity != id)
        {
            throw new InvalidOperationException($"issuer returned a certificate for {certificate.Identity} instead of {id}");
        }

        if (_time.GetUtcNow() >= certificate.NotAfter)
        {
            throw new InvalidOperationException($"issuer returned a certificate that expired at {certificate.NotAfter:u}");
        }
    }

    private async Task SleepUntilAsync(Entry entry, DateTimeOffset until)
    {
        while (true)
        {
            var remaining = until - _time.GetUtcNow();
            if (remaining <= TimeSpan.Zero)
            {
                return;
            }

            if (!await SleepAsync(entry, remaining < MaxTimerDelay ? remaining : MaxTimerDelay, wakeable: true).ConfigureAwait(false))
            {
                return; // woken early or stopping
            }
        }
    }

    /// <returns>True when the full delay elapsed; false when woken or stopping.</returns>
    private async Task<bool> SleepAsync(Entry entry, TimeSpan delay, bool wakeable)
    {
        var token = wakeable ? entry.BeginSleep() : entry.Stopping;
        try
        {
            await Task.Delay(delay, _time, token).ConfigureAwait(false);
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
        finally
        {
            if (wakeable)
            {
                entry.EndSleep();
            }
        }
    }

    private readonly record struct EntryState(
        WorkloadCertificate? Current,
        Exception? LastError,
        int ConsecutiveFailures,
        bool Stopped,
        Task NextAttempt);

    /// <summary>Per-identity state shared between the renewal loop and callers.</summary>
    private sealed class Entry
    {
        private readonly CancellationTokenSource _stop;
        private readonly Lock _lock = new();
        private WorkloadCertificate? _current;
        private WorkloadCertificate? _previous;
        private Exception? _lastError;
        private int _failures;
        private bool _stopped;
        private TaskCompletionSource _nextAttempt = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private CancellationTokenSource? _sleep;
        private bool _wakeRequested;

        public Entry(SpiffeId id, CancellationToken managerStopping)
        {
            Id = id;
            _stop = CancellationTokenSource.CreateLinkedTokenSource(managerStopping);
        }

        public SpiffeId Id { get; }

        public Task Loop { get; set; } = Task.CompletedTask;

        public CancellationToken Stopping => _stop.Token;

        public WorkloadCertificate? Current => Volatile.Read(ref _current);

        public WorkloadCertificate? Previous => Volatile.Read(ref _previous);

        public EntryState Snapshot()
        {
            lock (_lock)
            {
                return new EntryState(_current, _lastError, _failures, _stopped, _nextAttempt.Task);
            }
        }

        public void BeginAttempt()
        {
            lock (_lock)
            {
                _wakeRequested = false; // this attempt serves whoever asked
            }
        }

        /// <returns>The certificate being replaced, or null for the first issuance.</returns>
        public WorkloadCertificate? Succeeded(WorkloadCertificate certificate, DateTimeOffset now)
        {
            WorkloadCertificate? replaced;
            TaskCompletionSource attempt;
            lock (_lock)
            {
                replaced = _current;
                // The previous certificate is only worth keeping while it is still valid.
                Volatile.Write(ref _previous, replaced is not null && now < replaced.NotAfter ? replaced : null);
                Volatile.Write(ref _current, certificate);
                _lastError = null;
                _failures = 0;
                attempt = _nextAttempt;
                _nextAttempt = new(TaskCreationOptions.RunContinuationsAsynchronously);
            }

            attempt.TrySetResult();
            return replaced;
        }

        public void Failed(Exception error, int failures)
        {
            TaskCompletionSource attempt;
            lock (_lock)
            {
                _lastError = error;
                _failures = failures;
                attempt = _nextAttempt;
                _nextAttempt = new(TaskCreationOptions.RunContinuationsAsynchronously);
            }

            attempt.TrySetResult();
        }

        public void Stopped()
        {
            TaskCompletionSource attempt;
            lock (_lock)
            {
                _stopped = true;
                attempt = _nextAttempt;
            }

            attempt.TrySetResult();
        }

        public CancellationToken BeginSleep()
        {
            lock (_lock)
            {
                if (_wakeRequested)
                {
                    _wakeRequested = false;
                    return new CancellationToken(canceled: true);
                }

                _sleep = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
                return _sleep.Token;
            }
        }

        public void EndSleep()
        {
            CancellationTokenSource? sleep;
            lock (_lock)
            {
                sleep = _sleep;
                _sleep = null;
            }

            sleep?.Dispose();
        }

        public void Wake()
        {
            CancellationTokenSource? sleep;
            lock (_lock)
            {
                _wakeRequested = true;
                sleep = _sleep;
            }

            try
            {
                sleep?.Cancel(); // outside the lock: the loop may resume inline
            }
            catch (ObjectDisposedException)
            {
                // The sleep ended on its own meanwhile; the flag covers the next one.
            }
        }

        public async Task StopAsync()
        {
            try
            {
                await _stop.CancelAsync().ConfigureAwait(false);
            }
            catch (ObjectDisposedException)
            {
            }

            await Loop.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            _stop.Dispose();
        }
    }
}

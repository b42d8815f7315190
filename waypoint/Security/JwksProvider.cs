using System.Collections.Concurrent;

namespace Ambient.Waypoint.Security;

/// <summary>Fetches the JWKS document at a <c>jwksUri</c> (HTTP, or a file for local setups). Implementations may throw; the cache handles it.</summary>
public interface IJwksFetcher
{
    Task<string> FetchAsync(Uri uri, TimeSpan timeout, CancellationToken cancellationToken);
}

/// <summary>The default fetcher: <c>file://</c> URIs are read from disk, <c>http(s)://</c> with the given client.</summary>
public sealed class JwksFetcher(HttpClient? http = null) : IJwksFetcher
{
    public async Task<string> FetchAsync(Uri uri, TimeSpan timeout, CancellationToken cancellationToken)
    {
        if (uri.IsFile) return await File.ReadAllTextAsync(uri.LocalPath, cancellationToken).ConfigureAwait(false);
        if (http is null) throw new InvalidOperationException("no HttpClient configured for fetching JWKS over HTTP");
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        cts.CancelAfter(timeout);
        return await http.GetStringAsync(uri, cts.Token).ConfigureAwait(false);
    }
}

/// <summary>
/// JWKS by URI with caching: a set is reused for <see cref="RefreshInterval"/> (Istio's default 20 minutes), then
/// refreshed by one fetch at a time while callers keep getting the old set. A failed fetch keeps the last good set
/// and is retried after <see cref="RetryInterval"/>; with no good set yet, callers get null (tokens fail with 401,
/// as Istio does when the JWKS cannot be fetched).
/// </summary>
public sealed class JwksCache(IJwksFetcher fetcher, TimeProvider? clock = null)
{
    private readonly TimeProvider _clock = clock ?? TimeProvider.System;
    private readonly ConcurrentDictionary<string, Entry> _entries = new(StringComparer.Ordinal);

    public TimeSpan RefreshInterval { get; init; } = TimeSpan.FromMinutes(20);
    public TimeSpan RetryInterval { get; init; } = TimeSpan.FromSeconds(30);
    public TimeSpan FetchTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>The last fetch error per URI (for logs), or null.</summary>
    public string? LastError(string uri) => _entries.TryGetValue(uri, out var entry) ? entry.Error : null;

    public ValueTask<JsonWebKeySet?> GetAsync(string uri, TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        var entry = _entries.GetOrAdd(uri, static _ => new Entry());
        var now = _clock.GetUtcNow();
        var current = Volatile.Read(ref entry.Keys);
        if (current is not null && now.UtcTicks < Interlocked.Read(ref entry.NextRefreshTicks)) return ValueTask.FromResult<JsonWebKeySet?>(current);
        var fetch = StartFetch(entry, uri, timeout ?? FetchTimeout, now);
        // Stale-while-refresh: an old set answers at once; only the very first fetch is waited for.
        if (current is not null) return ValueTask.FromResult<JsonWebKeySet?>(current);
        return new ValueTask<JsonWebKeySet?>(fetch.WaitAsync(cancellationToken));
    }

    private Task<JsonWebKeySet?> StartFetch(Entry entry, string uri, TimeSpan timeout, DateTimeOffset now)
    {
        lock (entry)
        {
            if (entry.Fetch is { IsCompleted: false } running) return running;
            if (entry.Keys is null && entry.Fetch is not null && now.UtcTicks < Interlocked.Read(ref entry.NextRefreshTicks)) return entry.Fetch; // failed recently: don't hammer
            entry.Fetch = FetchAsync(entry, uri, timeout);
            return entry.Fetch;
        }
    }

    private async Task<JsonWebKeySet?> FetchAsync(Entry entry, string uri, TimeSpan timeout)
    {
        string? error;
        try
        {
            var text = await fetcher.FetchAsync(new Uri(uri), timeout, CancellationToken.None).ConfigureAwait(false);
            var keys = JsonWebKeySet.TryParse(text, out error);
            if (keys is not null)
            {
                Volatile.Write(ref entry.Keys, keys);
                entry.Error = null;
                Interlocked.Exchange(ref entry.NextRefreshTicks, (_clock.GetUtcNow() + RefreshInterval).UtcTicks);
                return keys;
            }
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            error = $"fetching JWKS from {uri} failed: {e.Message}";
        }
        entry.Error = error;
        Interlocked.Exchange(ref entry.NextRefreshTicks, (_clock.GetUtcNow() + RetryInterval).UtcTicks);
        return Volatile.Read(ref entry.Keys);
    }

    private sealed class Entry
    {
        public JsonWebKeySet? Keys;
        public Task<JsonWebKeySet?>? Fetch;
        /// <summary>UTC ticks; a long so readers outside the lock never see a torn value.</summary>
        public long NextRefreshTicks;
        public volatile string? Error;
    }
}

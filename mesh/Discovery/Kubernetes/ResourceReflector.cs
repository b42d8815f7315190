using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging;

namespace Ambient.Discovery.Kubernetes;

/// <summary>
/// Keeps the <see cref="ObjectCache"/> of one resource in step with the API server, the way client-go's reflector does:
/// <list type="number">
/// <item>list (paginated with <c>limit</c>/<c>continue</c>) and replace the cache with exactly what was listed;</item>
/// <item>watch from the list's resourceVersion with <c>allowWatchBookmarks=true</c>, applying ADDED/MODIFIED/DELETED and
/// remembering the resourceVersion of every event and BOOKMARK;</item>
/// <item>when the watch ends (server timeout, dropped connection), watch again from the last resourceVersion: no relist;</item>
/// <item>on 410 Gone (an ERROR event or an HTTP 410) relist, which drops everything deleted meanwhile;</item>
/// <item>on any other error retry after an exponential backoff with jitter, keeping the cache as it was.</item>
/// </list>
/// </summary>
internal sealed class ResourceReflector
{
    private static readonly TimeSpan HealthyWatchDuration = TimeSpan.FromSeconds(1);

    private readonly KubernetesApiClient _api;
    private readonly KubernetesSourceOptions _options;
    private readonly ILogger _logger;
    private readonly Action _changed;
    private readonly Backoff _backoff;
    private readonly Backoff _emptyWatchBackoff;
    private volatile string? _resourceVersion;
    private volatile bool _synced;
    private volatile bool _served = true;
    private volatile string? _lastError;
    private string? _lastLoggedError;

    public ResourceReflector(KubernetesResource resource, KubernetesApiClient api, KubernetesSourceOptions options, ILogger logger, Action changed)
    {
        Resource = resource;
        _api = api;
        _options = options;
        _logger = logger;
        _changed = changed;
        _backoff = new Backoff(options.InitialBackoff, options.MaxBackoff);
        _emptyWatchBackoff = new Backoff(options.InitialBackoff, options.MaxBackoff);
    }

    public KubernetesResource Resource { get; }

    public ObjectCache Cache { get; } = new();

    /// <summary>True once a list succeeded (or an optional resource turned out not to be served); stays true afterwards.</summary>
    public bool HasSynced => _synced;

    /// <summary>The resourceVersion the next watch resumes from (last list, event or bookmark).</summary>
    public string? ResourceVersion => _resourceVersion;

    public KubernetesResourceStatus Status => new(Resource.Kind, Resource.ApiVersion, _synced, _served, _resourceVersion, Cache.Count, _backoff.Failures, _lastError);

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        var needList = true;
        while (!cancellationToken.IsCancellationRequested)
        {
            var operation = needList ? "list" : "watch";
            try
            {
                if (needList)
                {
                    await ListAsync(cancellationToken).ConfigureAwait(false);
                    needList = false;
                    Succeeded();
                    operation = "watch";
                }
                var (gone, healthy) = await WatchAsync(cancellationToken).ConfigureAwait(false);
                if (gone is not null)
                {
                    _logger.Gone(Resource.Kind, _resourceVersion ?? "", gone.StatusMessage);
                    needList = true;
                    continue;
                }
                if (healthy)
                {
                    _emptyWatchBackoff.Reset();
                    continue;
                }
                // The server accepted the watch but ended it at once without sending anything: don't spin.
                await Task.Delay(_emptyWatchBackoff.Next(), cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (KubernetesApiException e) when (e.IsGone && !needList)
            {
                // HTTP 410 on the watch request: our resourceVersion is older than the server's history.
                _logger.Gone(Resource.Kind, _resourceVersion ?? "", e.StatusMessage);
                needList = true;
            }
            catch (KubernetesApiException e) when (e.IsNotFound && Resource.Optional)
            {
                NotServed();
                needList = true;
                await Task.Delay(_options.MaxBackoff, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                var delay = _backoff.Next();
                Failed(operation, e, delay);
                try
                {
                    await Task.Delay(delay, cancellationToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }

    private async Task ListAsync(CancellationToken cancellationToken)
    {
        var items = new List<CachedObject>();
        string? continueToken = null;
        var resourceVersion = "";
        do
        {
            var query = new StringBuilder(Resource.Path);
            var separator = '?';
            if (_options.ListPageSize > 0)
            {
                query.Append(separator).Append("limit=").Append(_options.ListPageSize.ToString(CultureInfo.InvariantCulture));
                separator = '&';
            }
            if (continueToken is not null) query.Append(separator).Append("continue=").Append(Uri.EscapeDataString(continueToken));

            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(_options.RequestTimeout);
            try
            {
                using var response = await _api.GetAsync(query.ToString(), timeout.Token).ConfigureAwait(false);
                await using var stream = await response.Content.ReadAsStreamAsync(timeout.Token).ConfigureAwait(false);
                using var document = await JsonDocument.ParseAsync(stream, default, timeout.Token).ConfigureAwait(false);
                var root = document.RootElement;
                var metadata = JsonRead.Get(root, "metadata");
                resourceVersion = metadata is { } m ? CachedObject.Text(m, "resourceVersion") ?? "" : "";
                continueToken = metadata is { } m2 ? CachedObject.Text(m2, "continue") : null;
                if (continueToken is { Length: 0 }) continueToken = null;
                if (JsonRead.Get(root, "items") is { ValueKind: JsonValueKind.Array } list)
                {
                    foreach (var item in list.EnumerateArray())
                    {
                        var cached = CachedObject.From(Resource, item, out var problem);
                        if (cached is null) _logger.BadEvent(Resource.Kind, "list item", problem!);
                        else items.Add(cached);
                    }
                }
                else if (JsonRead.Get(root, "kind") is { } kind && kind.ValueKind == JsonValueKind.String && kind.GetString() == "Status")
                {
                    throw KubernetesApiClient.FromStatus(root, 500, "");
                }
            }
            catch (OperationCanceledException) when (timeout.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
            {
                throw new TimeoutException($"list did not complete within {_options.RequestTimeout}");
            }
        }
        while (continueToken is not null);

        if (resourceVersion.Length == 0) throw new InvalidDataException("list response has no metadata.resourceVersion");
        var changed = Cache.Replace(items);
        var first = !_synced;
        _resourceVersion = resourceVersion;
        _served = true;
        _synced = true;
        _logger.Listed(Resource.Kind, items.Count, resourceVersion);
        // The first list signals even when empty: it may complete the initial sync.
        if (changed || first) _changed();
    }

    /// <summary>Runs one watch until the server ends it. Returns the 410 when the watch expired; healthy = it lived or delivered events.</summary>
    private async Task<(KubernetesApiException? Gone, bool Healthy)> WatchAsync(CancellationToken cancellationToken)
    {
        var seconds = (int)Math.Max(1, _options.WatchTimeout.TotalSeconds * (1 + Random.Shared.NextDouble()));
        var path = $"{Resource.Path}?watch=true&allowWatchBookmarks=true&resourceVersion={Uri.EscapeDataString(_resourceVersion ?? "")}&timeoutSeconds={seconds.ToString(CultureInfo.InvariantCulture)}";
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(TimeSpan.FromSeconds(seconds) + _options.WatchIdleGrace);
        var started = Stopwatch.StartNew();
        var events = 0;
        try
        {
            using var response = await _api.GetAsync(path, deadline.Token).ConfigureAwait(false);
            Succeeded(); // connected: the API server is back
            await using var stream = await response.Content.ReadAsStreamAsync(deadline.Token).ConfigureAwait(false);
            using var reader = new StreamReader(stream, Encoding.UTF8);
            while (await reader.ReadLineAsync(deadline.Token).ConfigureAwait(false) is { } line)
            {
                if (line.Length == 0) continue;
                events++;
                var gone = Apply(line);
                if (gone is not null) return (gone, true);
            }
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException($"watch sent nothing and did not end within {seconds} s + {_options.WatchIdleGrace}");
        }
        _logger.WatchEnded(Resource.Kind, _resourceVersion ?? "", events);
        return (null, events > 0 || started.Elapsed >= HealthyWatchDuration);
    }

    /// <summary>Applies one watch event line; returns the Status of an ERROR 410 event.</summary>
    private KubernetesApiException? Apply(string line)
    {
        JsonElement watchEvent;
        try
        {
            var reader = new Utf8JsonReader(Encoding.UTF8.GetBytes(line));
            watchEvent = JsonElement.ParseValue(ref reader);
        }
        catch (JsonException e)
        {
            // A torn stream: resume from the last good resourceVersion.
            throw new InvalidDataException($"malformed watch event: {e.Message}", e);
        }
        var type = CachedObject.Text(watchEvent, "type") ?? "";
        if (JsonRead.Get(watchEvent, "object") is not { } obj)
        {
            _logger.BadEvent(Resource.Kind, type, "event has no object");
            return null;
        }
        switch (type)
        {
            case "ADDED":
            case "MODIFIED":
            case "DELETED":
            {
                var cached = CachedObject.From(Resource, obj, out var problem);
                if (cached is null)
                {
                    _logger.BadEvent(Resource.Kind, type, problem!);
                    AdvanceTo(obj);
                    return null;
                }
                var changed = type == "DELETED" ? Cache.Delete(cached.Key) : Cache.Upsert(cached);
                if (cached.ResourceVersion.Length > 0) _resourceVersion = cached.ResourceVersion;
                if (changed) _changed();
                return null;
            }
            case "BOOKMARK":
                AdvanceTo(obj);
                return null;
            case "ERROR":
            {
                var status = KubernetesApiClient.FromStatus(obj, 500, "");
                if (status.IsGone) return status;
                throw status;
            }
            default:
                _logger.BadEvent(Resource.Kind, type, $"unknown event type '{type}'");
                return null;
        }
    }

    private void AdvanceTo(JsonElement obj)
    {
        if (JsonRead.Get(obj, "metadata") is { } metadata && CachedObject.Text(metadata, "resourceVersion") is { Length: > 0 } rv)
        {
            _resourceVersion = rv;
        }
    }

    private void NotServed()
    {
        if (_served || !_synced)
        {
            _logger.NotServed(Resource.Kind, Resource.ApiVersion, _options.MaxBackoff);
        }
        _served = false;
        _resourceVersion = null;
        _lastError = null;
        var changed = Cache.Replace([]);
        var first = !_synced;
        _synced = true;
        if (changed || first) _changed();
    }

    private void Succeeded()
    {
        if (_backoff.Failures > 0) _logger.Recovered(Resource.Kind, _backoff.Failures);
        _backoff.Reset();
        _lastError = null;
        _lastLoggedError = null;
    }

    private void Failed(string operation, Exception e, TimeSpan delay)
    {
        var error = Describe(e);
        _lastError = error;
        if (_backoff.Failures == 1 || error != _lastLoggedError)
        {
            _logger.RequestFailed(Resource.Kind, operation, _backoff.Failures, error, delay);
            _lastLoggedError = error;
        }
        else
        {
            _logger.RequestFailedAgain(Resource.Kind, operation, _backoff.Failures, error, delay);
        }
    }

    private static string Describe(Exception e) => e switch
    {
        HttpRequestException { InnerException: { } inner } h => $"{h.Message} ({inner.Message})",
        KubernetesApiException k => $"HTTP {k.Message}",
        _ => e.Message,
    };
}

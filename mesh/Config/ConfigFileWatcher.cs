using System.Security.Cryptography;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Ambient.Config;

/// <summary>
/// Keeps a <see cref="ConfigStore"/> in sync with a YAML file. A FileSystemWatcher on the file's directory (so
/// rename-replace by editors, <c>File.Move</c> overwrite and Kubernetes ConfigMap symlink swaps are seen) triggers a
/// debounced reload; a periodic poll comparing mtime/size and then a SHA-256 of the content covers anything the
/// watcher misses. Content identical to the last processed version is ignored. A bad edit logs every error and keeps
/// the last good snapshot; a good one publishes a snapshot with the next generation.
/// </summary>
public sealed class ConfigFileWatcher : IDisposable
{
    private static readonly StringComparison PathComparison =
        OperatingSystem.IsWindows() || OperatingSystem.IsMacOS() ? StringComparison.OrdinalIgnoreCase : StringComparison.Ordinal;

    private readonly Lock _reloadLock = new();
    private readonly ILogger _logger;
    private readonly ConfigFileWatcherOptions _options;
    private FileSystemWatcher? _watcher;
    private Timer? _debounceTimer;
    private Timer? _pollTimer;
    private byte[]? _lastHash;
    private string? _lastReadFailure;
    private (DateTime LastWriteUtc, long Length)? _lastStat;
    private volatile ConfigLoadResult? _lastResult;
    private volatile bool _disposed;

    public ConfigFileWatcher(string path, ConfigStore store, ILogger? logger = null, ConfigFileWatcherOptions? options = null)
    {
        Path = System.IO.Path.GetFullPath(path);
        Store = store;
        _logger = logger ?? NullLogger.Instance;
        _options = options ?? new ConfigFileWatcherOptions();
    }

    /// <summary>Absolute path of the watched file.</summary>
    public string Path { get; }

    public ConfigStore Store { get; }

    /// <summary>Result of the last load that processed new content (good or bad); null before the first.</summary>
    public ConfigLoadResult? LastResult => _lastResult;

    /// <summary>Raised after every load of new content, successful or not (after the store was updated on success).</summary>
    public event EventHandler<ConfigLoadResult>? Reloaded;

    /// <summary>Loads the file once synchronously, then starts watching. Returns the initial load result.</summary>
    public ConfigLoadResult Start()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_pollTimer is not null) throw new InvalidOperationException("ConfigFileWatcher already started");
        TryReload();
        _debounceTimer = new Timer(_ => ReloadSafely(), null, Timeout.Infinite, Timeout.Infinite);
        if (_options.UseFileSystemWatcher) StartFileSystemWatcher();
        _pollTimer = new Timer(_ => Poll(), null, _options.PollInterval, _options.PollInterval);
        return _lastResult!;
    }

    /// <summary>Reads the file now and applies it if its content changed since the last attempt. Serialized with the background reloads.</summary>
    internal ReloadStatus TryReload()
    {
        lock (_reloadLock)
        {
            if (_disposed) return ReloadStatus.Unchanged;
            var stat = Stat();
            byte[] bytes;
            try
            {
                bytes = ConfigLoader.ReadAllBytesShared(Path);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                var failure = $"cannot read config file: {e.Message}";
                _lastStat = stat;
                if (failure == _lastReadFailure) return ReloadStatus.Unchanged;
                _lastReadFailure = failure;
                _lastHash = null;
                return Reject(ConfigLoadResult.Failed(new ConfigError(Path, 0, 0, "", failure)));
            }
            _lastStat = stat;
            _lastReadFailure = null;
            var hash = SHA256.HashData(bytes);
            if (_lastHash is not null && hash.AsSpan().SequenceEqual(_lastHash)) return ReloadStatus.Unchanged;
            _lastHash = hash;

            var generation = Store.Current.Generation + 1;
            var result = ConfigLoader.LoadBytes(bytes, Path, generation);
            if (!result.Usable) return Reject(result);

            var config = result.Config!;
            _lastResult = result;
            if (!result.Errors.IsEmpty) _logger.LogPartialErrors(result, Path);
            _logger.ConfigLoaded(Path, config.Generation, config.Workloads.Length, config.Services.Length,
                config.AuthorizationPolicies.Length, config.PeerAuthentications.Length);
            try
            {
                Store.Update(config);
            }
            catch (AggregateException e)
            {
                // The snapshot is published; only a subscriber failed. Report it and carry on.
                _logger.ReloadFailed(e, Path);
            }
            Reloaded?.Invoke(this, result);
            return ReloadStatus.Applied;
        }
    }

    private ReloadStatus Reject(ConfigLoadResult result)
    {
        _lastResult = result;
        _logger.LogErrors(result, Path, Store.Current.Generation);
        Reloaded?.Invoke(this, result);
        return ReloadStatus.Rejected;
    }

    private (DateTime LastWriteUtc, long Length)? Stat()
    {
        try
        {
            var info = new FileInfo(Path);
            return info.Exists ? (info.LastWriteTimeUtc, info.Length) : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    private void StartFileSystemWatcher()
    {
        var directory = System.IO.Path.GetDirectoryName(Path)!;
        try
        {
            var watcher = new FileSystemWatcher(directory)
            {
                IncludeSubdirectories = false,
                NotifyFilter = NotifyFilters.FileName | NotifyFilters.DirectoryName | NotifyFilters.LastWrite
                               | NotifyFilters.Size | NotifyFilters.CreationTime,
            };
            // Any change in the directory schedules a (debounced, hash-checked) reload: besides direct writes this
            // catches "write temp + rename over" and ConfigMap-style symlink swaps, whose events name other files.
            watcher.Changed += (_, _) => ScheduleReload();
            watcher.Created += (_, _) => ScheduleReload();
            watcher.Deleted += (_, _) => ScheduleReload();
            watcher.Renamed += (_, _) => ScheduleReload();
            watcher.Error += (_, e) =>
            {
                _logger.WatcherError(e.GetException(), directory);
                ScheduleReload();
            };
            watcher.EnableRaisingEvents = true;
            _watcher = watcher;
        }
        catch (Exception e) when (e is ArgumentException or IOException or PlatformNotSupportedException or UnauthorizedAccessException)
        {
            _logger.WatchUnavailable(directory, e.Message, _options.PollInterval);
        }
    }

    private void ScheduleReload()
    {
        if (_disposed) return;
        try
        {
            _debounceTimer?.Change(_options.Debounce, Timeout.InfiniteTimeSpan);
        }
        catch (ObjectDisposedException)
        {
        }
    }

    private void Poll()
    {
        if (_disposed) return;
        var stat = Stat();
        lock (_reloadLock)
        {
            // Unchanged mtime and size: skip reading, unless the mtime is so recent that a same-size edit within the
            // file system's timestamp granularity could hide behind it (then the content hash decides).
            if (stat is { } s && stat == _lastStat && DateTime.UtcNow - s.LastWriteUtc > TimeSpan.FromSeconds(5)) return;
        }
        ReloadSafely();
    }

    private void ReloadSafely()
    {
        try
        {
            TryReload();
        }
        catch (Exception e)
        {
            _logger.ReloadFailed(e, Path);
        }
    }

    public void Dispose()
    {
        lock (_reloadLock)
        {
            if (_disposed) return;
            _disposed = true;
        }
        _watcher?.Dispose();
        _debounceTimer?.Dispose();
        _pollTimer?.Dispose();
    }
}

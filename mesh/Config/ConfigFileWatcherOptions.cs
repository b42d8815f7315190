namespace Ambient.Config;

/// <summary>Tuning for <see cref="ConfigFileWatcher"/>.</summary>
public sealed record ConfigFileWatcherOptions
{
    /// <summary>Quiet time after the last file-system event before reloading (editors write in several steps).</summary>
    public TimeSpan Debounce { get; init; } = TimeSpan.FromMilliseconds(200);

    /// <summary>Fallback poll (mtime/size, then content hash) for file systems or editors whose changes FileSystemWatcher misses.</summary>
    public TimeSpan PollInterval { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>Set false to rely on polling only.</summary>
    public bool UseFileSystemWatcher { get; init; } = true;
}

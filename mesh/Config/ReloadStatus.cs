namespace Ambient.Config;

/// <summary>Outcome of <see cref="ConfigFileWatcher.TryReload"/>.</summary>
internal enum ReloadStatus
{
    /// <summary>New content loaded without errors and published to the store.</summary>
    Applied,

    /// <summary>New content (or a new read failure) had errors; they were logged and the last good snapshot kept.</summary>
    Rejected,

    /// <summary>Content (or read failure) identical to the last one processed; nothing done.</summary>
    Unchanged,
}

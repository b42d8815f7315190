namespace Ambient.Config;

/// <summary>
/// Holds the current <see cref="MeshSnapshot"/>. Readers use <see cref="Current"/> (a volatile read, never locks);
/// writers publish whole snapshots atomically. Writers are serialized and <see cref="Changed"/> is raised on the
/// writing thread, in publication order, after the new snapshot is visible.
/// </summary>
public sealed class ConfigStore
{
    private readonly Lock _writeLock = new();
    private volatile MeshSnapshot _current;

    public ConfigStore() : this(MeshSnapshot.Empty)
    {
    }

    public ConfigStore(MeshSnapshot initial) => _current = initial;

    public MeshSnapshot Current => _current;

    /// <summary>Raised after each publish. Handlers should be quick; exceptions are collected and rethrown after all handlers ran.</summary>
    public event EventHandler<ConfigChangedEventArgs>? Changed;

    /// <summary>Indexes <paramref name="config"/> and publishes it.</summary>
    public MeshSnapshot Update(MeshConfig config)
    {
        var snapshot = new MeshSnapshot(config);
        Publish(snapshot);
        return snapshot;
    }

    public void Publish(MeshSnapshot snapshot)
    {
        lock (_writeLock)
        {
            var previous = _current;
            _current = snapshot;
            var handlers = Changed;
            if (handlers is null) return;
            var args = new ConfigChangedEventArgs(previous, snapshot);
            List<Exception>? failures = null;
            foreach (var handler in handlers.GetInvocationList())
            {
                try
                {
                    ((EventHandler<ConfigChangedEventArgs>)handler)(this, args);
                }
                catch (Exception e)
                {
                    (failures ??= []).Add(e);
                }
            }
            if (failures is not null) throw new AggregateException("ConfigStore.Changed handler failed", failures);
        }
    }
}

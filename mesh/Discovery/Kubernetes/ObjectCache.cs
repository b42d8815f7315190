using System.Collections.Immutable;

namespace Ambient.Discovery.Kubernetes;

/// <summary>
/// The current objects of one resource, keyed by namespace/name. Writers (the resource's list/watch loop) learn
/// whether a write changed anything the mesh reads; readers (the rebuild) take a consistent copy.
/// </summary>
internal sealed class ObjectCache
{
    private readonly Lock _lock = new();
    private readonly Dictionary<string, CachedObject> _objects = new(StringComparer.Ordinal);
    private ImmutableArray<CachedObject>? _sorted;

    public int Count
    {
        get { lock (_lock) return _objects.Count; }
    }

    /// <summary>Adds or replaces an object; true when its projected content is new or different.</summary>
    public bool Upsert(CachedObject value)
    {
        lock (_lock)
        {
            var changed = !_objects.TryGetValue(value.Key, out var old) || !old.SameContent(value);
            _objects[value.Key] = value;
            if (changed) _sorted = null;
            return changed;
        }
    }

    /// <summary>Removes an object; true when it was present.</summary>
    public bool Delete(string key)
    {
        lock (_lock)
        {
            if (!_objects.Remove(key)) return false;
            _sorted = null;
            return true;
        }
    }

    /// <summary>
    /// Makes the cache hold exactly <paramref name="values"/> (a relist): objects not among them are gone, so nothing
    /// deleted while the watch was away survives. True when anything changed.
    /// </summary>
    public bool Replace(IEnumerable<CachedObject> values)
    {
        lock (_lock)
        {
            var fresh = new Dictionary<string, CachedObject>(StringComparer.Ordinal);
            foreach (var value in values) fresh[value.Key] = value;
            var changed = fresh.Count != _objects.Count;
            if (!changed)
            {
                foreach (var (key, value) in fresh)
                {
                    if (!_objects.TryGetValue(key, out var old) || !old.SameContent(value))
                    {
                        changed = true;
                        break;
                    }
                }
            }
            _objects.Clear();
            foreach (var (key, value) in fresh) _objects[key] = value;
            if (changed) _sorted = null;
            return changed;
        }
    }

    public bool TryGet(string key, out CachedObject? value)
    {
        lock (_lock) return _objects.TryGetValue(key, out value);
    }

    /// <summary>All objects ordered by key (so rebuilds are deterministic).</summary>
    public ImmutableArray<CachedObject> Snapshot()
    {
        lock (_lock)
        {
            return _sorted ??= [.. _objects.Values.OrderBy(o => o.Key, StringComparer.Ordinal)];
        }
    }
}

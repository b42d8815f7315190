using System.Collections.Immutable;
using Ambient.Config.Routes;

namespace Ambient.Waypoint.Routing;

/// <summary>
/// Picks one of a rule's backendRefs in proportion to its weight (weight 0 is never picked), by a binary search over
/// cumulative weights precomputed at build time. Deterministic for a given random source, so tests can seed it.
/// </summary>
public sealed class WeightedBackendPicker
{
    private readonly RouteBackendRef[] _backends;
    private readonly long[] _cumulative;

    public WeightedBackendPicker(ImmutableArray<RouteBackendRef> backends)
    {
        var kept = new List<RouteBackendRef>(backends.Length);
        var cumulative = new List<long>(backends.Length);
        long total = 0;
        foreach (var backend in backends)
        {
            if (backend.Weight <= 0) continue;
            total += backend.Weight;
            kept.Add(backend);
            cumulative.Add(total);
        }
        _backends = [.. kept];
        _cumulative = [.. cumulative];
        TotalWeight = total;
    }

    public long TotalWeight { get; }

    /// <summary>False when the rule has no backend with weight above 0: Gateway API answers such requests with 500.</summary>
    public bool HasBackends => _backends.Length > 0;

    /// <summary>The chosen backend, or null when <see cref="HasBackends"/> is false.</summary>
    public RouteBackendRef? Pick(Random random)
    {
        if (_backends.Length == 0) return null;
        if (_backends.Length == 1) return _backends[0];
        var ticket = random.NextInt64(TotalWeight); // 0 .. total-1
        int lo = 0, hi = _cumulative.Length - 1;
        while (lo < hi)
        {
            var mid = (lo + hi) >>> 1;
            if (_cumulative[mid] > ticket) hi = mid;
            else lo = mid + 1;
        }
        return _backends[lo];
    }
}

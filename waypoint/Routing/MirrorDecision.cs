using System.Collections.Immutable;
using Ambient.Config.Routes;

namespace Ambient.Waypoint.Routing;

/// <summary>Which RequestMirror filters fire for one request (each independently, by its fraction).</summary>
public static class MirrorDecision
{
    public static ImmutableArray<BackendReference> Targets(ImmutableArray<RouteFilter> filters, Random random)
    {
        ImmutableArray<BackendReference>.Builder? builder = null;
        foreach (var filter in filters)
        {
            if (filter.Mirror is not { } mirror) continue;
            if (mirror.Fraction >= 1.0 || (mirror.Fraction > 0 && random.NextDouble() < mirror.Fraction))
                (builder ??= ImmutableArray.CreateBuilder<BackendReference>()).Add(mirror.Backend);
        }
        return builder?.ToImmutable() ?? [];
    }
}

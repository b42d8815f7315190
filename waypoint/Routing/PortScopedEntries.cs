namespace Ambient.Waypoint.Routing;

/// <summary>A compiled route entry bound to one service port, or to all of them (<see cref="Port"/> null).</summary>
internal interface IPortScoped
{
    int? Port { get; }
}

/// <summary>What the HTTP and gRPC route tables share about ports.</summary>
internal static class PortScopedEntries
{
    /// <summary>True when some entry of <paramref name="service"/> applies on <paramref name="port"/>.</summary>
    public static bool AnyOn<TEntry>(Dictionary<ServiceRouteKey, TEntry[]> byService, ServiceRouteKey service, int port) where TEntry : IPortScoped
    {
        if (!byService.TryGetValue(service, out var entries)) return false;
        foreach (var entry in entries)
        {
            if (entry.Port is null || entry.Port == port) return true;
        }
        return false;
    }
}

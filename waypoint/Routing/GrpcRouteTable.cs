using Ambient.Config.Routes;

namespace Ambient.Waypoint.Routing;

/// <summary>The rule chosen for a gRPC request.</summary>
public sealed record GrpcRouteSelection(GrpcRoute Route, GrpcRouteRule Rule, int RuleIndex, WeightedBackendPicker Backends);

/// <summary>
/// GRPCRoutes attached to services, compiled per snapshot, sorted by Gateway API GRPCRoute precedence: longest
/// matching service, then longest method, then most header matches, then config order, namespace/name, rule order.
/// A rule without matches matches every gRPC request.
/// </summary>
public sealed class GrpcRouteTable
{
    private readonly Dictionary<ServiceRouteKey, Entry[]> _byService;

    private GrpcRouteTable(Dictionary<ServiceRouteKey, Entry[]> byService) => _byService = byService;

    public static GrpcRouteTable Empty { get; } = new([]);

    public static GrpcRouteTable Build(IReadOnlyList<GrpcRoute> routes)
    {
        var lists = new Dictionary<ServiceRouteKey, List<Entry>>();
        for (var order = 0; order < routes.Count; order++)
        {
            var route = routes[order];
            foreach (var parent in route.ParentRefs)
            {
                if (!parent.IsService) continue;
                var key = new ServiceRouteKey(parent.Namespace, parent.Name);
                if (!lists.TryGetValue(key, out var list)) lists[key] = list = [];
                for (var r = 0; r < route.Rules.Length; r++)
                {
                    var rule = route.Rules[r];
                    var selection = new GrpcRouteSelection(route, rule, r, new WeightedBackendPicker(rule.BackendRefs));
                    if (rule.Matches.IsEmpty) list.Add(new Entry(new CompiledGrpcMatch(null), parent.Port, selection, order, 0));
                    for (var m = 0; m < rule.Matches.Length; m++)
                        list.Add(new Entry(new CompiledGrpcMatch(rule.Matches[m]), parent.Port, selection, order, m));
                }
            }
        }
        var byService = new Dictionary<ServiceRouteKey, Entry[]>(lists.Count);
        foreach (var (key, list) in lists)
        {
            list.Sort(Precedence);
            byService[key] = [.. list];
        }
        return new GrpcRouteTable(byService);
    }

    /// <summary>
    /// True when some route attaches to the service on <paramref name="port"/> (a parentRef without a port covers all):
    /// then an unmatched request there is a 404, not a pass-through.
    /// </summary>
    public bool HasRoutes(ServiceRouteKey service, int port) => PortScopedEntries.AnyOn(_byService, service, port);

    public GrpcRouteSelection? Match(ServiceRouteKey service, int port, HttpRequestHead request)
    {
        if (!_byService.TryGetValue(service, out var entries)) return null;
        foreach (var entry in entries)
        {
            if (entry.Port is { } only && only != port) continue;
            if (entry.Match.Matches(request)) return entry.Selection;
        }
        return null;
    }

    private static int Precedence(Entry a, Entry b)
    {
        int c;
        if ((c = b.Match.ServiceLength.CompareTo(a.Match.ServiceLength)) != 0) return c;
        if ((c = b.Match.MethodLength.CompareTo(a.Match.MethodLength)) != 0) return c;
        if ((c = b.Match.HeaderCount.CompareTo(a.Match.HeaderCount)) != 0) return c;
        if ((c = a.RouteOrder.CompareTo(b.RouteOrder)) != 0) return c;
        if ((c = string.CompareOrdinal(a.Selection.Route.Key, b.Selection.Route.Key)) != 0) return c;
        if ((c = a.Selection.RuleIndex.CompareTo(b.Selection.RuleIndex)) != 0) return c;
        return a.MatchIndex.CompareTo(b.MatchIndex);
    }

    private sealed record Entry(CompiledGrpcMatch Match, int? Port, GrpcRouteSelection Selection, int RouteOrder, int MatchIndex) : IPortScoped;
}

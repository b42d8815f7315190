using Ambient.Config.Routes;

namespace Ambient.Waypoint.Routing;

/// <summary>
/// All HTTPRoutes attached to services (GAMMA: parentRefs of kind Service), compiled once per config snapshot.
/// Per service, every (route, rule, match) is flattened into one list sorted by Gateway API precedence, so a request
/// walks the list and the first match wins:
/// exact path, then the longest prefix, then regex paths; then a method match; then more header matches; then more
/// query matches; then the route that came first in the config (standing in for the oldest creation timestamp), then
/// namespace/name, then rule order. Hostnames are ignored for Service parents, as GAMMA specifies.
/// </summary>
public sealed class HttpRouteTable
{
    private readonly Dictionary<ServiceRouteKey, Entry[]> _byService;

    private HttpRouteTable(Dictionary<ServiceRouteKey, Entry[]> byService) => _byService = byService;

    public static HttpRouteTable Empty { get; } = new([]);

    /// <param name="routes">In config order (earlier = older); only valid (parsed) routes.</param>
    public static HttpRouteTable Build(IReadOnlyList<HttpRoute> routes)
    {
        var lists = new Dictionary<ServiceRouteKey, List<Entry>>();
        for (var order = 0; order < routes.Count; order++)
        {
            var route = routes[order];
            var rules = new (HttpRouteRule Rule, WeightedBackendPicker Picker, CompiledHttpMatch[] Matches)[route.Rules.Length];
            for (var r = 0; r < rules.Length; r++)
            {
                var rule = route.Rules[r];
                var matches = new CompiledHttpMatch[rule.Matches.Length];
                for (var m = 0; m < matches.Length; m++) matches[m] = new CompiledHttpMatch(rule.Matches[m]);
                rules[r] = (rule, new WeightedBackendPicker(rule.BackendRefs), matches);
            }
            foreach (var parent in route.ParentRefs)
            {
                if (!parent.IsService) continue;
                var key = new ServiceRouteKey(parent.Namespace, parent.Name);
                if (!lists.TryGetValue(key, out var list)) lists[key] = list = [];
                for (var r = 0; r < rules.Length; r++)
                {
                    for (var m = 0; m < rules[r].Matches.Length; m++)
                    {
                        var selection = new HttpRouteSelection(route, rules[r].Rule, r, rules[r].Rule.Matches[m], rules[r].Picker);
                        list.Add(new Entry(rules[r].Matches[m], parent.Port, selection, order, m));
                    }
                }
            }
        }
        var byService = new Dictionary<ServiceRouteKey, Entry[]>(lists.Count);
        foreach (var (key, list) in lists)
        {
            list.Sort(Precedence);
            byService[key] = [.. list];
        }
        return new HttpRouteTable(byService);
    }

    /// <summary>
    /// True when some route attaches to the service on <paramref name="port"/> (a parentRef without a port covers all):
    /// then an unmatched request there is a 404, not a pass-through.
    /// </summary>
    public bool HasRoutes(ServiceRouteKey service, int port) => PortScopedEntries.AnyOn(_byService, service, port);

    /// <summary>The winning rule for a request to <paramref name="service"/> on <paramref name="port"/>, or null.</summary>
    public HttpRouteSelection? Match(ServiceRouteKey service, int port, HttpRequestHead request)
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
        if ((c = a.Match.PathRank.CompareTo(b.Match.PathRank)) != 0) return c;
        if (a.Match.PathRank == 1 && (c = b.Match.PathLength.CompareTo(a.Match.PathLength)) != 0) return c;
        if ((c = b.Match.HasMethod.CompareTo(a.Match.HasMethod)) != 0) return c;
        if ((c = b.Match.HeaderCount.CompareTo(a.Match.HeaderCount)) != 0) return c;
        if ((c = b.Match.QueryCount.CompareTo(a.Match.QueryCount)) != 0) return c;
        if ((c = a.RouteOrder.CompareTo(b.RouteOrder)) != 0) return c;
        if ((c = string.CompareOrdinal(a.Selection.Route.Key, b.Selection.Route.Key)) != 0) return c;
        if ((c = a.Selection.RuleIndex.CompareTo(b.Selection.RuleIndex)) != 0) return c;
        return a.MatchIndex.CompareTo(b.MatchIndex);
    }

    private sealed record Entry(CompiledHttpMatch Match, int? Port, HttpRouteSelection Selection, int RouteOrder, int MatchIndex) : IPortScoped;
}

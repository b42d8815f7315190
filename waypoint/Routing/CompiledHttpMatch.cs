using System.Text.RegularExpressions;
using Ambient.Config.Routes;

namespace Ambient.Waypoint.Routing;

/// <summary>One HTTPRoute match, compiled: normalized prefix, regexes built once.</summary>
internal sealed class CompiledHttpMatch
{
    private readonly PathMatchType _pathType;
    private readonly string _path;
    private readonly Regex? _pathRegex;
    private readonly string? _method;
    private readonly CompiledValueMatch[] _headers;
    private readonly CompiledValueMatch[] _query;

    public CompiledHttpMatch(HttpRouteMatch match)
    {
        Source = match;
        _pathType = match.Path.Type;
        _path = _pathType == PathMatchType.PathPrefix ? PathPrefix.Normalize(match.Path.Value) : match.Path.Value;
        if (_pathType == PathMatchType.RegularExpression)
            _pathRegex = RouteRegex.TryCreate(match.Path.Value, out var error) ?? throw new ArgumentException(error, nameof(match));
        _method = match.Method;
        _headers = Compile(match.Headers);
        _query = Compile(match.QueryParams);
    }

    public HttpRouteMatch Source { get; }

    /// <summary>Precedence rank of the path kind: Exact, then PathPrefix, then RegularExpression.</summary>
    public int PathRank => _pathType switch { PathMatchType.Exact => 0, PathMatchType.PathPrefix => 1, _ => 2 };

    /// <summary>Characters of the prefix (longest prefix wins), counted as written minus a trailing slash.</summary>
    public int PathLength => _path.Length;

    public bool HasMethod => _method is not null;
    public int HeaderCount => _headers.Length;
    public int QueryCount => _query.Length;

    public bool Matches(HttpRequestHead request)
    {
        var pathOk = _pathType switch
        {
            PathMatchType.Exact => string.Equals(request.Path, _path, StringComparison.Ordinal),
            PathMatchType.PathPrefix => PathPrefix.Matches(_path, request.Path),
            _ => RouteRegex.IsMatch(_pathRegex!, request.Path),
        };
        if (!pathOk) return false;
        if (_method is not null && !string.Equals(_method, request.Method, StringComparison.Ordinal)) return false;
        foreach (var header in _headers)
        {
            if (!header.Matches(RequestValues.Header(request.Headers, header.Name))) return false;
        }
        foreach (var parameter in _query)
        {
            if (!parameter.Matches(RequestValues.Query(request.Query, parameter.Name))) return false;
        }
        return true;
    }

    private static CompiledValueMatch[] Compile(System.Collections.Immutable.ImmutableArray<RouteValueMatch> matches)
    {
        var result = new CompiledValueMatch[matches.Length];
        for (var i = 0; i < result.Length; i++) result[i] = new CompiledValueMatch(matches[i]);
        return result;
    }
}

using System.Text.RegularExpressions;
using Ambient.Config.Routes;

namespace Ambient.Waypoint.Routing;

/// <summary>One GRPCRoute match, compiled. gRPC requests are <c>POST /package.Service/Method</c>.</summary>
internal sealed class CompiledGrpcMatch
{
    private readonly string? _service;
    private readonly string? _method;
    private readonly Regex? _serviceRegex;
    private readonly Regex? _methodRegex;
    private readonly CompiledValueMatch[] _headers;

    public CompiledGrpcMatch(GrpcRouteMatch? match)
    {
        _service = match?.Method?.Service;
        _method = match?.Method?.Method;
        if (match?.Method is { Type: StringMatchType.RegularExpression } regex)
        {
            _serviceRegex = regex.Service is null ? null : RouteRegex.TryCreate(regex.Service, out var e1) ?? throw new ArgumentException(e1);
            _methodRegex = regex.Method is null ? null : RouteRegex.TryCreate(regex.Method, out var e2) ?? throw new ArgumentException(e2);
        }
        var headers = match?.Headers ?? [];
        _headers = new CompiledValueMatch[headers.Length];
        for (var i = 0; i < headers.Length; i++) _headers[i] = new CompiledValueMatch(headers[i]);
    }

    /// <summary>Gateway API precedence: characters of the matching service, then of the method, then header count.</summary>
    public int ServiceLength => _service?.Length ?? 0;
    public int MethodLength => _method?.Length ?? 0;
    public int HeaderCount => _headers.Length;

    public bool Matches(HttpRequestHead request)
    {
        if (_service is not null || _method is not null)
        {
            if (!GrpcMethodName.TryParse(request.Path, out var service, out var method)) return false;
            if (_service is not null && !(_serviceRegex is null ? service.SequenceEqual(_service) : RouteRegex.IsMatch(_serviceRegex, service))) return false;
            if (_method is not null && !(_methodRegex is null ? method.SequenceEqual(_method) : RouteRegex.IsMatch(_methodRegex, method))) return false;
        }
        foreach (var header in _headers)
        {
            if (!header.Matches(RequestValues.Header(request.Headers, header.Name))) return false;
        }
        return true;
    }
}

/// <summary>Splits a gRPC path <c>/package.Service/Method</c>.</summary>
public static class GrpcMethodName
{
    public static bool TryParse(string path, out ReadOnlySpan<char> service, out ReadOnlySpan<char> method)
    {
        service = method = default;
        if (path.Length < 4 || path[0] != '/') return false;
        var slash = path.IndexOf('/', 1);
        if (slash <= 1 || slash == path.Length - 1 || path.IndexOf('/', slash + 1) >= 0) return false;
        service = path.AsSpan(1, slash - 1);
        method = path.AsSpan(slash + 1);
        return true;
    }
}

using System.Collections.Immutable;

namespace Ambient.Config.Routes;

/// <summary>
/// Gateway API <c>gateway.networking.k8s.io/v1 HTTPRoute</c>. <see cref="Fault"/> and <see cref="RateLimit"/> are
/// Ambient's L7 extensions, written as the annotations <c>ambient.dev/fault</c> and <c>ambient.dev/local-rate-limit</c>
/// (see <see cref="RouteExtensionParser"/>); they apply to every rule of the route.
/// </summary>
public sealed record HttpRoute
{
    public required string Name { get; init; }
    public required string Namespace { get; init; }
    public ImmutableArray<RouteParentRef> ParentRefs { get; init; } = [];
    /// <summary>Lowercase; a leading <c>*.</c> is a wildcard label. Ignored for Service parents (GAMMA).</summary>
    public ImmutableArray<string> Hostnames { get; init; } = [];
    public ImmutableArray<HttpRouteRule> Rules { get; init; } = [];
    public FaultInjection? Fault { get; init; }
    public LocalRateLimit? RateLimit { get; init; }

    public string Key => $"{Namespace}/{Name}";
}

/// <summary>
/// <c>rules[]</c>. <see cref="Matches"/> is never empty: an omitted list is Gateway API's default, one
/// <c>PathPrefix /</c> match. No backends (or only weight-0 backends) and no redirect means the request gets a 500.
/// </summary>
public sealed record HttpRouteRule
{
    public string? Name { get; init; }
    public ImmutableArray<HttpRouteMatch> Matches { get; init; } = [HttpRouteMatch.Default];
    public ImmutableArray<RouteFilter> Filters { get; init; } = [];
    public ImmutableArray<RouteBackendRef> BackendRefs { get; init; } = [];
    public RouteTimeouts? Timeouts { get; init; }
    public RouteRetry? Retry { get; init; }
}

public enum PathMatchType
{
    Exact,
    PathPrefix,
    RegularExpression,
}

public enum StringMatchType
{
    Exact,
    RegularExpression,
}

/// <summary>A path match; a PathPrefix value is kept as written (trailing <c>/</c> is ignored when matching).</summary>
public sealed record HttpPathMatch(PathMatchType Type, string Value);

/// <summary>A header or query parameter match. Header names compare case-insensitively, query names exactly.</summary>
public sealed record RouteValueMatch(StringMatchType Type, string Name, string Value);

/// <summary>One <c>matches[]</c> entry: every set condition must hold.</summary>
public sealed record HttpRouteMatch
{
    public static readonly HttpRouteMatch Default = new();

    public HttpPathMatch Path { get; init; } = new(PathMatchType.PathPrefix, "/");
    public ImmutableArray<RouteValueMatch> Headers { get; init; } = [];
    public ImmutableArray<RouteValueMatch> QueryParams { get; init; } = [];
    /// <summary>Upper-case HTTP method, or null for any.</summary>
    public string? Method { get; init; }
}

/// <summary>
/// <c>timeouts</c>: <see cref="Request"/> bounds the whole exchange including retries, <see cref="BackendRequest"/>
/// one attempt. <see cref="TimeSpan.Zero"/> (written <c>0s</c>) disables the timeout; null is the implementation default.
/// </summary>
public sealed record RouteTimeouts
{
    public TimeSpan? Request { get; init; }
    public TimeSpan? BackendRequest { get; init; }
}

/// <summary>
/// Gateway API v1.2 <c>retry</c>: retry when the backend answers one of <see cref="Codes"/> (400-599) or the
/// connection fails, at most <see cref="Attempts"/> times (0 disables), waiting at least <see cref="Backoff"/>.
/// </summary>
public sealed record RouteRetry
{
    public ImmutableArray<int> Codes { get; init; } = [];
    public int? Attempts { get; init; }
    public TimeSpan? Backoff { get; init; }
}

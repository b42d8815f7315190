using System.Collections.Immutable;

namespace Ambient.Config.Routes;

public enum RouteFilterType
{
    RequestHeaderModifier,
    ResponseHeaderModifier,
    RequestRedirect,
    UrlRewrite,
    RequestMirror,
}

/// <summary>
/// One Gateway API filter. Exactly the member matching <see cref="Type"/> is set (<see cref="HeaderModifier"/> for
/// both header modifier types). GRPCRoute allows only the header modifiers and <c>RequestMirror</c>.
/// </summary>
public sealed record RouteFilter
{
    public required RouteFilterType Type { get; init; }
    public HeaderModifier? HeaderModifier { get; init; }
    public RequestRedirect? Redirect { get; init; }
    public UrlRewrite? Rewrite { get; init; }
    public RequestMirror? Mirror { get; init; }
}

public sealed record HttpHeaderValue(string Name, string Value);

/// <summary>
/// <c>requestHeaderModifier</c>/<c>responseHeaderModifier</c>: header names are case-insensitive and unique within
/// each list. Applied in the order set, add, remove (as Envoy applies headers_to_add before headers_to_remove).
/// </summary>
public sealed record HeaderModifier
{
    public ImmutableArray<HttpHeaderValue> Set { get; init; } = [];
    public ImmutableArray<HttpHeaderValue> Add { get; init; } = [];
    public ImmutableArray<string> Remove { get; init; } = [];
}

public enum PathModifierType
{
    ReplaceFullPath,
    ReplacePrefixMatch,
}

/// <summary><c>path: { type, replaceFullPath | replacePrefixMatch }</c> of a redirect or rewrite.</summary>
public sealed record PathModifier(PathModifierType Type, string Value);

/// <summary><c>requestRedirect</c>: unset fields keep the request's value. <see cref="StatusCode"/> defaults to 302.</summary>
public sealed record RequestRedirect
{
    /// <summary><c>http</c> or <c>https</c>.</summary>
    public string? Scheme { get; init; }
    public string? Hostname { get; init; }
    public PathModifier? Path { get; init; }
    public int? Port { get; init; }
    public int StatusCode { get; init; } = 302;
}

/// <summary><c>urlRewrite</c>: rewrites the Host (authority) and/or path before forwarding.</summary>
public sealed record UrlRewrite
{
    public string? Hostname { get; init; }
    public PathModifier? Path { get; init; }
}

/// <summary>
/// <c>requestMirror</c>: a copy of the request goes to <see cref="Backend"/> (responses ignored) for
/// <see cref="Fraction"/> of requests (1 when neither <c>percent</c> nor <c>fraction</c> is written).
/// </summary>
public sealed record RequestMirror
{
    public required BackendReference Backend { get; init; }
    public double Fraction { get; init; } = 1.0;
}

/// <summary>One <c>backendRefs[]</c> entry: a Service with a relative <see cref="Weight"/> (0 = never picked) and its own filters.</summary>
public sealed record RouteBackendRef
{
    public required BackendReference Backend { get; init; }
    public int Weight { get; init; } = 1;
    public ImmutableArray<RouteFilter> Filters { get; init; } = [];
}

using System.Collections.Immutable;

namespace Ambient.Config;

/// <summary>
/// Istio <c>rules[].to[].operation</c>. Ports are validated (1-65535) and stored as numbers; hosts, methods and
/// paths are HTTP-only fields kept verbatim so an L4 evaluator can apply Istio's semantics to them.
/// </summary>
public sealed record PolicyOperation
{
    public ImmutableArray<int> Ports { get; init; } = [];
    public ImmutableArray<int> NotPorts { get; init; } = [];
    public ImmutableArray<string> Hosts { get; init; } = [];
    public ImmutableArray<string> NotHosts { get; init; } = [];
    public ImmutableArray<string> Methods { get; init; } = [];
    public ImmutableArray<string> NotMethods { get; init; } = [];
    public ImmutableArray<string> Paths { get; init; } = [];
    public ImmutableArray<string> NotPaths { get; init; } = [];
}

using System.Collections.Immutable;

namespace Ambient.Config;

/// <summary>
/// Istio <c>rules[].when[]</c>: <see cref="Key"/> is one of Istio's condition keys (<c>source.ip</c>,
/// <c>destination.port</c>, <c>request.headers[x-foo]</c>, ...). At least one of the value lists is non-empty.
/// Values of IP keys are validated as IP/CIDR and values of <c>destination.port</c> as ports.
/// </summary>
public sealed record PolicyCondition
{
    public required string Key { get; init; }
    public ImmutableArray<string> Values { get; init; } = [];
    public ImmutableArray<string> NotValues { get; init; } = [];
}

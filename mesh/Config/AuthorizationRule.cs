using System.Collections.Immutable;

namespace Ambient.Config;

/// <summary>
/// One Istio rule. YAML <c>from: [ { source: {...} } ]</c> becomes <see cref="From"/> (the <c>source</c> wrappers are
/// dropped), <c>to: [ { operation: {...} } ]</c> becomes <see cref="To"/>. The rule matches when any From, any To and
/// every When match; an empty list matches everything.
/// </summary>
public sealed record AuthorizationRule
{
    public ImmutableArray<PolicySource> From { get; init; } = [];
    public ImmutableArray<PolicyOperation> To { get; init; } = [];
    public ImmutableArray<PolicyCondition> When { get; init; } = [];
}

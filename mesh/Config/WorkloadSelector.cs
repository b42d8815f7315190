using System.Collections.Immutable;

namespace Ambient.Config;

/// <summary>Istio <c>selector: { matchLabels: {...} }</c>. An empty <see cref="MatchLabels"/> selects every workload.</summary>
public sealed record WorkloadSelector(ImmutableDictionary<string, string> MatchLabels)
{
    public bool Matches(IReadOnlyDictionary<string, string> labels)
    {
        foreach (var (key, value) in MatchLabels)
        {
            if (!labels.TryGetValue(key, out var actual) || !string.Equals(actual, value, StringComparison.Ordinal))
                return false;
        }
        return true;
    }
}

using System.Text.RegularExpressions;
using Ambient.Config.Routes;

namespace Ambient.Waypoint.Routing;

/// <summary>A header or query match with its regex compiled once, at table build time.</summary>
internal sealed class CompiledValueMatch
{
    private readonly string _name;
    private readonly string _value;
    private readonly Regex? _regex;

    public CompiledValueMatch(RouteValueMatch match)
    {
        _name = match.Name;
        _value = match.Value;
        if (match.Type == StringMatchType.RegularExpression)
            _regex = RouteRegex.TryCreate(match.Value, out var error) ?? throw new ArgumentException(error, nameof(match));
    }

    public string Name => _name;

    /// <summary>An absent value never matches (Gateway API has no "absent" match).</summary>
    public bool Matches(string? actual) =>
        actual is not null && (_regex is null ? string.Equals(actual, _value, StringComparison.Ordinal) : RouteRegex.IsMatch(_regex, actual));
}

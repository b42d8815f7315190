using System.Text.RegularExpressions;

namespace Ambient.Config.Routes;

/// <summary>
/// Regular expressions of route matches. Envoy (and so Istio) uses RE2: linear time, full match, no back-references
/// or look-around. .NET's non-backtracking engine has the same guarantees and the same missing features, so a
/// pattern that validates here behaves like it would in Istio and cannot be used for ReDoS. The match timeout is a
/// second safety net. Used by the parsers (validation) and by the waypoint (matching), so both agree.
/// </summary>
public static class RouteRegex
{
    public static readonly TimeSpan MatchTimeout = TimeSpan.FromMilliseconds(50);

    public const int MaxPatternLength = 1024;

    public static Regex? TryCreate(string pattern, out string? error)
    {
        error = null;
        if (pattern.Length > MaxPatternLength)
        {
            error = $"regular expression is longer than {MaxPatternLength} characters";
            return null;
        }
        try
        {
            return new Regex($"^(?:{pattern})$", RegexOptions.NonBacktracking | RegexOptions.CultureInvariant, MatchTimeout);
        }
        catch (Exception e) when (e is ArgumentException or NotSupportedException)
        {
            error = $"'{pattern}' is not a supported regular expression (RE2 syntax, no back-references or look-around): {e.Message}";
            return null;
        }
    }

    /// <summary>Full match; a timeout counts as no match (fail closed for routing, logged by the caller's metrics).</summary>
    public static bool IsMatch(Regex regex, ReadOnlySpan<char> input)
    {
        try
        {
            return regex.IsMatch(input);
        }
        catch (RegexMatchTimeoutException)
        {
            return false;
        }
    }
}

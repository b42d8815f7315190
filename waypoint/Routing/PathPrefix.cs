namespace Ambient.Waypoint.Routing;

/// <summary>
/// Gateway API PathPrefix semantics: element-wise, case-sensitive, a trailing <c>/</c> in the prefix ignored.
/// <c>/abc</c> and <c>/abc/</c> match <c>/abc</c>, <c>/abc/</c> and <c>/abc/def</c> but not <c>/abcd</c>.
/// </summary>
public static class PathPrefix
{
    /// <summary>The prefix with a trailing <c>/</c> removed; <c>/</c> becomes <c>""</c>, which matches every path.</summary>
    public static string Normalize(string prefix) => prefix.EndsWith('/') ? prefix.TrimEnd('/') : prefix;

    /// <param name="normalizedPrefix">From <see cref="Normalize"/>.</param>
    public static bool Matches(string normalizedPrefix, string path) =>
        path.StartsWith(normalizedPrefix, StringComparison.Ordinal)
        && (path.Length == normalizedPrefix.Length || path[normalizedPrefix.Length] == '/');
}

using Ambient.Config.Routes;

namespace Ambient.Waypoint.Routing;

/// <summary>Gateway API path modifiers (shared by RequestRedirect and URLRewrite).</summary>
public static class PathRewriter
{
    /// <summary>
    /// The new path for <paramref name="path"/> (no query). ReplaceFullPath replaces it all; ReplacePrefixMatch
    /// replaces the path elements the rule's PathPrefix matched, so with prefix <c>/foo</c>: <c>/foo/bar</c> →
    /// <c>/xyz/bar</c> for <c>/xyz</c> or <c>/xyz/</c>, <c>/foo</c> → <c>/xyz</c>, <c>/foo/</c> → <c>/xyz/</c>, and
    /// <c>/foo/bar</c> → <c>/bar</c> for an empty or <c>/</c> replacement; never an empty path.
    /// </summary>
    /// <param name="matchedPrefix">The PathPrefix value of the match that selected the rule (as written).</param>
    public static string Rewrite(PathModifier modifier, string path, string? matchedPrefix)
    {
        if (modifier.Type == PathModifierType.ReplaceFullPath) return modifier.Value;
        var prefix = PathPrefix.Normalize(matchedPrefix ?? "/");
        var rest = PathPrefix.Matches(prefix, path) ? path[prefix.Length..] : path; // the parser guarantees the prefix matched
        var replacement = modifier.Value.TrimEnd('/');
        var result = replacement + rest;
        return result.Length == 0 ? "/" : result;
    }

    /// <summary>The PathPrefix value of a match, or null for other path types.</summary>
    public static string? PrefixOf(HttpRouteMatch match) => match.Path.Type == PathMatchType.PathPrefix ? match.Path.Value : null;
}

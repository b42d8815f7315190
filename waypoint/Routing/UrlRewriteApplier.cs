using Ambient.Config.Routes;

namespace Ambient.Waypoint.Routing;

/// <summary>The authority and path to forward with after a URLRewrite (the query is unchanged).</summary>
public readonly record struct RewrittenTarget(string Authority, string Path);

public static class UrlRewriteApplier
{
    /// <summary>A hostname rewrite replaces the whole authority (as Envoy's host rewrite does); the path follows <see cref="PathRewriter"/>.</summary>
    public static RewrittenTarget Apply(UrlRewrite rewrite, HttpRequestHead request, string? matchedPrefix) =>
        new(rewrite.Hostname ?? request.Authority,
            rewrite.Path is null ? request.Path : PathRewriter.Rewrite(rewrite.Path, request.Path, matchedPrefix));
}

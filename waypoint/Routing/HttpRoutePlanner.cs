using System.Collections.Immutable;
using Ambient.Config.Routes;
using Microsoft.AspNetCore.Http;

namespace Ambient.Waypoint.Routing;

/// <summary>
/// Turns a chosen rule and a request into a <see cref="RoutePlan"/>: a RequestRedirect answers at once; otherwise a
/// backend is picked by weight, URLRewrite gives the forwarded authority and path, and the rule's and the backend's
/// header modifiers and mirrors are collected. Pure apart from the random source.
/// </summary>
public static class HttpRoutePlanner
{
    /// <param name="listenerPort">The service port the request arrived on (redirects default to it).</param>
    public static RoutePlan Plan(HttpRouteSelection selection, HttpRequestHead request, int listenerPort, Random random)
    {
        var rule = selection.Rule;
        var prefix = PathRewriter.PrefixOf(selection.Match);
        foreach (var filter in rule.Filters)
        {
            if (filter.Redirect is { } redirect)
                return new RoutePlan(RoutePlanKind.Redirect, Redirect: RedirectBuilder.Build(redirect, request, listenerPort, prefix));
        }
        if (selection.Backends.Pick(random) is not { } backend) return new RoutePlan(RoutePlanKind.NoBackend);

        var target = new RewrittenTarget(request.Authority, request.Path);
        var requestHeaders = ImmutableArray.CreateBuilder<HeaderModifier>();
        var responseHeaders = ImmutableArray.CreateBuilder<HeaderModifier>();
        foreach (var filter in rule.Filters)
        {
            if (filter.Rewrite is { } rewrite) target = UrlRewriteApplier.Apply(rewrite, request, prefix);
            Collect(filter, requestHeaders, responseHeaders);
        }
        foreach (var filter in backend.Filters) Collect(filter, requestHeaders, responseHeaders);
        var mirrors = MirrorDecision.Targets(rule.Filters, random);
        if (!backend.Filters.IsEmpty) mirrors = mirrors.AddRange(MirrorDecision.Targets(backend.Filters, random));
        return new RoutePlan(RoutePlanKind.Forward, new ForwardPlan(backend, target.Authority, target.Path,
            requestHeaders.ToImmutable(), responseHeaders.ToImmutable(), mirrors, selection.Retry, selection.Timeouts));
    }

    /// <summary>Applies the plan's request header modifiers (rule first, then backend) to the outgoing request's headers.</summary>
    public static void ApplyRequestHeaders(ForwardPlan plan, IHeaderDictionary headers)
    {
        foreach (var modifier in plan.RequestHeaders) HeaderModifierApplier.Apply(modifier, headers);
    }

    /// <summary>Applies the plan's response header modifiers to the response going back to the client.</summary>
    public static void ApplyResponseHeaders(ForwardPlan plan, IHeaderDictionary headers)
    {
        foreach (var modifier in plan.ResponseHeaders) HeaderModifierApplier.Apply(modifier, headers);
    }

    private static void Collect(RouteFilter filter, ImmutableArray<HeaderModifier>.Builder request, ImmutableArray<HeaderModifier>.Builder response)
    {
        if (filter.HeaderModifier is not { } modifier) return;
        if (filter.Type == RouteFilterType.RequestHeaderModifier) request.Add(modifier);
        else response.Add(modifier);
    }
}

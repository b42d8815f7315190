using System.Globalization;
using Ambient.Config.Routes;

namespace Ambient.Waypoint.Routing;

/// <summary>The response a RequestRedirect filter produces.</summary>
public readonly record struct RedirectResponse(int StatusCode, string Location);

/// <summary>Builds the <c>Location</c> of a RequestRedirect following Gateway API's rules.</summary>
public static class RedirectBuilder
{
    /// <summary>
    /// Unset fields keep the request's scheme, host and path; the query is kept. The port: the filter's, else the
    /// well-known port of a redirect scheme (80/443), else the listener (service) port. The port is left out of
    /// the Location when it is the scheme's default.
    /// </summary>
    /// <param name="listenerPort">The port the request arrived on (the service port), which Gateway API calls the listener port.</param>
    public static RedirectResponse Build(RequestRedirect redirect, HttpRequestHead request, int listenerPort, string? matchedPrefix)
    {
        var scheme = redirect.Scheme ?? request.Scheme;
        var host = redirect.Hostname ?? request.Host;
        var port = redirect.Port ?? (redirect.Scheme switch { "http" => 80, "https" => 443, _ => listenerPort });
        var path = redirect.Path is null ? request.Path : PathRewriter.Rewrite(redirect.Path, request.Path, matchedPrefix);
        var defaultPort = scheme == "https" ? 443 : scheme == "http" ? 80 : -1;
        var authority = port == defaultPort ? host : $"{host}:{port.ToString(CultureInfo.InvariantCulture)}";
        var query = request.Query.Length == 0 ? "" : "?" + request.Query;
        return new RedirectResponse(redirect.StatusCode, $"{scheme}://{authority}{path}{query}");
    }
}

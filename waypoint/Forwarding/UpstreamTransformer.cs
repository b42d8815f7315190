using System.Net.Http;
using Microsoft.AspNetCore.Http;
using Yarp.ReverseProxy.Forwarder;

namespace Ambient.Waypoint.Forwarding;

/// <summary>
/// Runs the route's transformer, then does what the HBONE client needs: the chosen endpoint goes on the request
/// for the ConnectCallback, and the client's Host is kept (YARP's default would send the pod's <c>ip:port</c>,
/// which is only our pool key) unless the route set a Host of its own.
/// </summary>
internal sealed class UpstreamTransformer(HttpTransformer inner, UpstreamEndpoint endpoint) : HttpTransformer
{
    public override async ValueTask TransformRequestAsync(HttpContext httpContext, HttpRequestMessage proxyRequest, string destinationPrefix, CancellationToken cancellationToken)
    {
        await inner.TransformRequestAsync(httpContext, proxyRequest, destinationPrefix, cancellationToken).ConfigureAwait(false);
        proxyRequest.Options.Set(UpstreamEndpoint.OptionKey, endpoint);
        if (proxyRequest.Headers.Host is null && httpContext.Request.Host.HasValue)
            proxyRequest.Headers.Host = httpContext.Request.Host.Value;
    }

    public override ValueTask<bool> TransformResponseAsync(HttpContext httpContext, HttpResponseMessage? proxyResponse, CancellationToken cancellationToken)
        => inner.TransformResponseAsync(httpContext, proxyResponse, cancellationToken);

    public override ValueTask TransformResponseTrailersAsync(HttpContext httpContext, HttpResponseMessage proxyResponse, CancellationToken cancellationToken)
        => inner.TransformResponseTrailersAsync(httpContext, proxyResponse, cancellationToken);
}

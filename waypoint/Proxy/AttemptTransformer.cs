using Ambient.Waypoint.Routing;
using Microsoft.AspNetCore.Http;
using Yarp.ReverseProxy.Forwarder;

namespace Ambient.Waypoint.Proxy;

/// <summary>
/// One forwarding attempt's transforms: the route's rewritten path and authority and its header modifiers. When
/// the attempt may still be retried and the upstream answers a retryable status, the answer is held back (not
/// copied to the client, which has seen nothing yet) so the pipeline can try again. An answer that goes to the
/// client ends the keeping of the request body for retries (a mirror may still need it).
/// </summary>
internal sealed class AttemptTransformer(ForwardPlan? plan, Func<int, bool> retryable, ReplayableRequestBody? body = null) : HttpTransformer
{
    /// <summary>The status of an answer that was held back for a retry; null when the answer went to the client.</summary>
    public int? HeldStatus { get; private set; }

    public override async ValueTask TransformRequestAsync(HttpContext context, HttpRequestMessage proxyRequest, string destinationPrefix, CancellationToken cancellationToken)
    {
        await Default.TransformRequestAsync(context, proxyRequest, destinationPrefix, cancellationToken).ConfigureAwait(false);
        ContinueTrace(proxyRequest);
        if (plan is null) return;
        proxyRequest.RequestUri = RequestUtilities.MakeDestinationAddress(destinationPrefix, new PathString(plan.Path), context.Request.QueryString);
        if (!string.Equals(plan.Authority, context.Request.Host.Value, StringComparison.OrdinalIgnoreCase))
            proxyRequest.Headers.Host = plan.Authority;
        if (!plan.RequestHeaders.IsEmpty)
        {
            // The modifiers work on ASP.NET header dictionaries: apply them to a copy of what goes upstream.
            var headers = new HeaderDictionary();
            foreach (var header in proxyRequest.Headers) headers[header.Key] = header.Value.ToArray();
            HttpRoutePlanner.ApplyRequestHeaders(plan, headers);
            foreach (var header in proxyRequest.Headers.ToArray())
                if (!headers.ContainsKey(header.Key)) proxyRequest.Headers.Remove(header.Key);
            foreach (var (name, values) in headers)
            {
                if (name.Equals("Host", StringComparison.OrdinalIgnoreCase)) { proxyRequest.Headers.Host = values.ToString(); continue; }
                proxyRequest.Headers.Remove(name);
                proxyRequest.Headers.TryAddWithoutValidation(name, values.ToArray());
            }
        }
    }

    /// <summary>
    /// W3C trace context: the upstream's parent is this hop's span, not the client's (the copied headers are replaced).
    /// </summary>
    private static void ContinueTrace(HttpRequestMessage proxyRequest)
    {
        if (System.Diagnostics.Activity.Current is not { } activity) return;
        proxyRequest.Headers.Remove("traceparent");
        proxyRequest.Headers.Remove("tracestate");
        System.Diagnostics.DistributedContextPropagator.Current.Inject(activity, proxyRequest, static (carrier, name, value) =>
        {
            if (carrier is HttpRequestMessage request) request.Headers.TryAddWithoutValidation(name, value);
        });
    }

    public override async ValueTask<bool> TransformResponseAsync(HttpContext context, HttpResponseMessage? proxyResponse, CancellationToken cancellationToken)
    {
        if (proxyResponse is not null && retryable((int)proxyResponse.StatusCode))
        {
            HeldStatus = (int)proxyResponse.StatusCode;
            return false; // not copied: the pipeline resets the response and tries again
        }
        if (proxyResponse is not null) body?.StopKeeping();
        var copy = await Default.TransformResponseAsync(context, proxyResponse, cancellationToken).ConfigureAwait(false);
        // istio_response_bytes: a body without Content-Length is counted as it is copied; the rest go by the header
        // (no stream wrapper, the common case).
        if (copy && context.Response.ContentLength is null
            && context.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpResponseBodyFeature>() is { } bodyFeature and not Telemetry.CountingResponseBody)
            context.Features.Set<Microsoft.AspNetCore.Http.Features.IHttpResponseBodyFeature>(new Telemetry.CountingResponseBody(bodyFeature));
        if (plan is not null && !plan.ResponseHeaders.IsEmpty)
            HttpRoutePlanner.ApplyResponseHeaders(plan, context.Response.Headers);
        return copy;
    }
}

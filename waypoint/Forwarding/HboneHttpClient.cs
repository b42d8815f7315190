using System.Diagnostics;
using System.Net;
using System.Net.Http;
using Ambient.Hbone;
using Ambient.Http2;
using Ambient.Waypoint.Resilience;

namespace Ambient.Waypoint.Forwarding;

/// <summary>
/// The waypoint's outgoing HTTP client: a <see cref="SocketsHttpHandler"/> whose connections are HBONE tunnels.
/// <para>
/// Pool key. SocketsHttpHandler pools HTTP connections per request URI authority, and the forwarder uses the
/// endpoint's own <c>http://ip:port</c> as that authority (<see cref="UpstreamEndpoint.DestinationPrefix"/>), so
/// every HTTP connection is a tunnel to exactly one pod address. The identity to expect is not in that key: the
/// ConnectCallback takes it from the request that opened the connection (<see cref="UpstreamEndpoint.OptionKey"/>)
/// and the tunnel's TLS handshake pins it. Later requests to the same <c>ip:port</c> reuse the tunnel; that is sound
/// because only one pod holds an address at a time, and a pod replaced at the same address takes its tunnels down
/// with it. The Host header the application sees is the client's (see <see cref="UpstreamTransformer"/>), not the
/// pool authority. The tunnels themselves share mTLS HTTP/2 connections through <see cref="HboneClient"/>'s pool.
/// </para>
/// <para>
/// The original client is not put on the tunnel (<c>Forwarded</c>): a pooled connection carries many clients'
/// requests, so it travels per request in <c>X-Forwarded-For</c> instead.
/// </para>
/// <para>
/// Connection limit. With a <see cref="ConnectionLimiter"/> (one client per destination service, see
/// <see cref="UpstreamClients"/>), every tunnel this client opens takes one of the service's connection permits
/// first, and gives it back when the HTTP client closes the connection.
/// </para>
/// </summary>
public static class HboneHttpClient
{
    /// <param name="hbone">The waypoint's tunnel client; its TLS callback presents the waypoint's certificate.</param>
    /// <param name="sourceIdentity">The waypoint's SPIFFE identity (part of the HBONE pool key).</param>
    /// <param name="limiter">The destination service's connection limit; null for none.</param>
    public static HttpMessageInvoker Create(HboneClient hbone, string sourceIdentity, TimeSpan? connectTimeout = null, ConnectionLimiter? limiter = null)
    {
        var handler = new SocketsHttpHandler
        {
            // A proxy forwards what it gets: no redirects, cookies, decompression or system proxy of its own.
            UseProxy = false,
            AllowAutoRedirect = false,
            AutomaticDecompression = DecompressionMethods.None,
            UseCookies = false,
            // More than 100 concurrent streams to one pod open a second HTTP/2 connection rather than queueing.
            EnableMultipleHttp2Connections = true,
            // YARP propagates trace context itself; the handler must not add a second traceparent.
            ActivityHeadersPropagator = DistributedContextPropagator.CreateNoOutputPropagator(),
            ConnectTimeout = connectTimeout ?? TimeSpan.FromSeconds(15),
            PooledConnectionIdleTimeout = TimeSpan.FromSeconds(90),
            ConnectCallback = (context, ct) => ConnectAsync(hbone, sourceIdentity, limiter, context, ct),
        };
        return new HttpMessageInvoker(handler, disposeHandler: true);
    }

    private static async ValueTask<Stream> ConnectAsync(HboneClient hbone, string sourceIdentity, ConnectionLimiter? limiter, SocketsHttpConnectionContext context, CancellationToken ct)
    {
        if (!context.InitialRequestMessage.Options.TryGetValue(UpstreamEndpoint.OptionKey, out var endpoint))
            throw new InvalidOperationException($"request to {context.DnsEndPoint} has no upstream endpoint: send it through HboneForwarder");
        // The pool key must be the endpoint's address, or a later request for another pod could ride this tunnel.
        if (!IPAddress.TryParse(context.DnsEndPoint.Host, out var host) || !host.Equals(endpoint.Address.Address) || context.DnsEndPoint.Port != endpoint.Address.Port)
            throw new InvalidOperationException($"request authority {context.DnsEndPoint.Host}:{context.DnsEndPoint.Port} is not the endpoint {endpoint.Address}");
        var request = new HboneConnectRequest(sourceIdentity, [endpoint.Identity], endpoint.HboneEndpoint, endpoint.Address);
        // h2c prior knowledge is the only way this handler speaks HTTP/2 over a plaintext tunnel (see HboneForwarder).
        bool http2 = context.InitialRequestMessage is { Version.Major: >= 2, VersionPolicy: not HttpVersionPolicy.RequestVersionOrLower };
        var counted = limiter is null ? null : await limiter.OpenAsync(endpoint.Address, http2, ct).ConfigureAwait(false);
        Http2Stream tunnel;
        // CancelAfter takes at most ~49 days; a longer connectTimeout means "none of our own".
        var timeout = limiter?.ConnectTimeout is { } t && t < TimeSpan.FromDays(1) ? t : (TimeSpan?)null;
        using var connectTimeout = timeout is null ? null : CancellationTokenSource.CreateLinkedTokenSource(ct);
        connectTimeout?.CancelAfter(timeout!.Value);
        try
        {
            tunnel = await hbone.ConnectAsync(request, connectTimeout?.Token ?? ct).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (connectTimeout is { IsCancellationRequested: true } && !ct.IsCancellationRequested)
        {
            counted?.Close();
            throw new HboneConnectException($"HBONE connect to {endpoint.Address} via {endpoint.HboneEndpoint} timed out after {timeout!.Value.TotalMilliseconds:0} ms (connectTimeout)");
        }
        catch
        {
            counted?.Close();
            throw;
        }
        var stream = new HboneStream(tunnel, counted);
        counted?.Attach(stream);
        return stream;
    }
}

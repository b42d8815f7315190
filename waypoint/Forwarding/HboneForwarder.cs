using System.Net;
using System.Net.Http;
using Microsoft.AspNetCore.Http;
using Yarp.ReverseProxy.Forwarder;

namespace Ambient.Waypoint.Forwarding;

/// <summary>
/// Forwards one request to a chosen endpoint over HBONE with YARP's <see cref="IHttpForwarder"/> (register it
/// with <c>services.AddHttpForwarder()</c>). Policy-free: the caller picks the endpoint, the timeout and the
/// transforms; this only chooses the HTTP version and hands the endpoint to <see cref="HboneHttpClient"/>.
/// </summary>
public sealed class HboneForwarder(IHttpForwarder forwarder, HttpMessageInvoker client)
{
    /// <summary>The default HBONE HTTP client (the overload without a client uses it).</summary>
    public HttpMessageInvoker Client => client;

    /// <summary>YARP's default: idle for this long between reads/writes cancels the request.</summary>
    public static readonly TimeSpan DefaultActivityTimeout = TimeSpan.FromSeconds(100);

    private static readonly ForwarderRequestConfig Http1 = Config(HttpVersion.Version11, HttpVersionPolicy.RequestVersionOrLower, null);
    // h2c prior knowledge: over a plaintext tunnel only an exact 2.0 makes SocketsHttpHandler speak HTTP/2.
    private static readonly ForwarderRequestConfig Http2 = Config(HttpVersion.Version20, HttpVersionPolicy.RequestVersionExact, null);

    /// <param name="timeout">Activity timeout (idle time allowed between reads/writes); null for YARP's default.</param>
    /// <param name="transformer">The route's request/response transforms; null for <see cref="HttpTransformer.Default"/>
    /// (copies headers, adds X-Forwarded-*).</param>
    public ValueTask<ForwarderError> ForwardAsync(HttpContext context, UpstreamEndpoint chosen, TimeSpan? timeout = null, HttpTransformer? transformer = null, CancellationToken cancellationToken = default)
        => ForwardAsync(context, client, chosen, timeout, transformer, cancellationToken);

    /// <summary>As above, over <paramref name="httpClient"/> (the destination service's, see <see cref="UpstreamClients"/>).</summary>
    public ValueTask<ForwarderError> ForwardAsync(HttpContext context, HttpMessageInvoker httpClient, UpstreamEndpoint chosen, TimeSpan? timeout = null, HttpTransformer? transformer = null, CancellationToken cancellationToken = default)
    {
        var config = UsesHttp2(context, chosen.Protocol) ? Http2 : Http1;
        if (timeout is { } t)
            config = config with { ActivityTimeout = t };
        var upstream = new UpstreamTransformer(transformer ?? HttpTransformer.Default, chosen);
        return forwarder.SendAsync(context, chosen.DestinationPrefix, httpClient, config, upstream, cancellationToken);
    }

    /// <summary>Whether a request goes upstream as HTTP/2 (else HTTP/1.1, one request per connection at a time).</summary>
    public static bool UsesHttp2(HttpContext context, UpstreamProtocol protocol) => protocol switch
    {
        UpstreamProtocol.Http2 => true,
        UpstreamProtocol.Http1 => false,
        _ => HttpProtocol.IsHttp2(context.Request.Protocol),
    };

    private static ForwarderRequestConfig Config(Version version, HttpVersionPolicy policy, TimeSpan? timeout)
        => new() { Version = version, VersionPolicy = policy, ActivityTimeout = timeout };
}

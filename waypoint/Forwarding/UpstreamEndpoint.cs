using System.Net;
using System.Net.Http;
using Ambient.Hbone;

namespace Ambient.Waypoint.Forwarding;

/// <summary>Which HTTP version to speak to the upstream over its tunnel.</summary>
public enum UpstreamProtocol
{
    /// <summary>The client's: HTTP/2 (h2c prior knowledge) for an HTTP/2 request, HTTP/1.1 otherwise.</summary>
    MatchClient,
    /// <summary>HTTP/1.1 (and WebSocket upgrades).</summary>
    Http1,
    /// <summary>HTTP/2 over the cleartext tunnel (gRPC needs it end to end).</summary>
    Http2,
}

/// <summary>
/// One chosen destination pod: its <c>ip:port</c> (the CONNECT target), the SPIFFE identity it must prove, and its
/// HBONE address (<c>ip:15008</c> unless given). Create once per endpoint and reuse: the destination prefix is
/// computed here, not per request.
/// </summary>
public sealed class UpstreamEndpoint
{
    /// <summary>Where <see cref="HboneForwarder"/> puts the endpoint on the outgoing request for the ConnectCallback.</summary>
    public static readonly HttpRequestOptionsKey<UpstreamEndpoint> OptionKey = new("ambient.upstream-endpoint");

    public const int HbonePort = 15008;

    public UpstreamEndpoint(IPEndPoint address, string identity, IPEndPoint? hboneEndpoint = null, UpstreamProtocol protocol = UpstreamProtocol.MatchClient)
    {
        ArgumentException.ThrowIfNullOrEmpty(identity);
        Address = address;
        Identity = identity;
        HboneEndpoint = hboneEndpoint ?? new IPEndPoint(address.Address, HbonePort);
        Protocol = protocol;
        DestinationPrefix = "http://" + HboneHeaders.FormatAuthority(address);
    }

    /// <summary>The pod's <c>ip:port</c>: the CONNECT <c>:authority</c> and the outgoing request's URI authority.</summary>
    public IPEndPoint Address { get; }

    /// <summary>The SPIFFE identity the destination must present.</summary>
    public string Identity { get; }

    public IPEndPoint HboneEndpoint { get; }

    public UpstreamProtocol Protocol { get; }

    /// <summary><c>http://ip:port</c>: SocketsHttpHandler pools HTTP connections (one tunnel each) per this authority.</summary>
    public string DestinationPrefix { get; }

    public override string ToString() => $"{DestinationPrefix} ({Identity})";
}

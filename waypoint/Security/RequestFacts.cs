using System.Net;
using Ambient.Waypoint.Routing;

namespace Ambient.Waypoint.Security;

/// <summary>
/// What L7 authorization knows about a request at the waypoint: the mTLS peer (from HBONE), addresses, the HTTP
/// request, and the JWT identity that <see cref="JwtAuthenticator"/> accepted (null when no token was sent).
/// </summary>
/// <param name="SourceIdentity">The client's SPIFFE URI (<c>spiffe://td/ns/x/sa/y</c>); null without mTLS.</param>
/// <param name="RemoteIp">The original client address (from <c>Forwarded</c>/<c>X-Forwarded-For</c>); defaults to <paramref name="SourceIp"/>.</param>
public sealed record RequestFacts(
    string? SourceIdentity,
    IPAddress SourceIp,
    IPAddress DestinationIp,
    int DestinationPort,
    HttpRequestHead Request,
    JwtIdentity? Jwt = null,
    IPAddress? RemoteIp = null,
    string? Sni = null);

using System.Net;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace Ambient.Waypoint.Transport;

/// <summary>
/// A Kestrel endpoint served over HBONE. Kestrel does not detect HTTP/2 prior knowledge on a cleartext
/// <c>Http1AndHttp2</c> endpoint (it answers the preface with GOAWAY HTTP_1_1_REQUIRED), so one HBONE address is
/// two Kestrel endpoints: the transport sniffs each tunnel's first bytes and hands HTTP/2 prefaces to the
/// <see cref="HttpProtocols.Http2"/> endpoint and everything else to the <see cref="HttpProtocols.Http1"/> one.
/// <see cref="KestrelHboneExtensions.ListenHbone"/> adds both. Its own type (not an <see cref="IPEndPoint"/>) lets
/// <see cref="HboneTransportFactory"/> claim exactly these endpoints; plain ones stay on Kestrel's sockets.
/// </summary>
public sealed class HboneListenEndPoint : EndPoint
{
    public HboneListenEndPoint(IPEndPoint address, HttpProtocols protocol)
    {
        if (protocol is not (HttpProtocols.Http1 or HttpProtocols.Http2))
            throw new ArgumentException("an HBONE endpoint takes either the HTTP/1 or the HTTP/2 tunnels", nameof(protocol));
        Address = address;
        Protocol = protocol;
    }

    /// <summary>The TCP address the HBONE (mTLS) listener binds, shared by the HTTP/1 and HTTP/2 endpoints.</summary>
    public IPEndPoint Address { get; }

    /// <summary>Which tunnels this endpoint receives: those that start with the HTTP/2 preface, or the others.</summary>
    public HttpProtocols Protocol { get; }

    public override System.Net.Sockets.AddressFamily AddressFamily => Address.AddressFamily;

    public override string ToString() => Protocol == HttpProtocols.Http2 ? $"hbone+h2c://{Address}" : $"hbone://{Address}";
}

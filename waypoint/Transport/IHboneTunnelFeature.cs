using System.Net;

namespace Ambient.Waypoint.Transport;

/// <summary>
/// What the HBONE tunnel carrying an HTTP connection says about it. Kestrel falls back to connection features for
/// any feature a request does not have, so middleware reads it with <c>HttpContext.Features.Get&lt;IHboneTunnelFeature&gt;()</c>.
/// </summary>
public interface IHboneTunnelFeature
{
    /// <summary>The peer's SPIFFE identity, verified by mTLS (the client workload's, sent by its node daemon).</summary>
    string? SourceIdentity { get; }

    /// <summary>The client's address from the CONNECT's <c>Forwarded: for=</c> header, when the peer sent one.</summary>
    IPEndPoint? OriginalClient { get; }

    /// <summary>The CONNECT <c>:authority</c>: the service VIP (or workload address) and port the client dialled.</summary>
    IPEndPoint Target { get; }

    /// <summary>The TCP address of the HBONE peer (the client's node daemon, not the client itself).</summary>
    IPEndPoint PeerEndPoint { get; }
}

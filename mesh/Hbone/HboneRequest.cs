using System.Net;
using Ambient.Http2;

namespace Ambient.Hbone;

/// <summary>
/// One inbound HBONE stream as the server sees it: the authenticated peer, the CONNECT target, and a way to
/// answer. The handler decides (authorization, upstream dial) and answers exactly once.
/// </summary>
public sealed class HboneRequest
{
    internal HboneRequest(Http2Stream stream, IPEndPoint local, IPEndPoint remote, string? peerIdentity)
    {
        Stream = stream;
        LocalEndPoint = local;
        RemoteEndPoint = remote;
        PeerIdentity = peerIdentity;
        Method = HeaderRules.Get(stream.RequestHeaders, ":method") ?? "";
        Authority = HeaderRules.Get(stream.RequestHeaders, ":authority");
        HboneHeaders.TryParseAuthority(Authority, out var target);
        Target = target;
        OriginalClient = HboneHeaders.ParseForwardedFor(HeaderRules.Get(stream.RequestHeaders, "forwarded"));
    }

    public Http2Stream Stream { get; }
    /// <summary>The address the peer dialled (the HBONE listener's address for this connection).</summary>
    public IPEndPoint LocalEndPoint { get; }
    public IPEndPoint RemoteEndPoint { get; }
    /// <summary>The peer's SPIFFE identity from its client certificate.</summary>
    public string? PeerIdentity { get; }
    public string Method { get; }
    public string? Authority { get; }
    /// <summary>The parsed <c>:authority</c>; null when it is not an <c>ip:port</c>.</summary>
    public IPEndPoint? Target { get; }
    /// <summary>The original client from the <c>Forwarded</c> header, when sent.</summary>
    public IPEndPoint? OriginalClient { get; }

    /// <summary>Answers with a status; anything but 200 also ends the stream.</summary>
    public ValueTask RespondAsync(int status)
        => Stream.SendHeadersAsync(HboneHeaders.Status(status), endStream: status != 200);
}

using System.Net.Security;
using Ambient.Hbone;
using Ambient.Http2;
using Ambient.Identity;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Ambient.Waypoint.Transport;

/// <summary>How the waypoint's HBONE listener authenticates peers and which tunnels it admits.</summary>
public sealed record HboneTransportOptions
{
    /// <summary>
    /// Server TLS options for one accepted connection, e.g.
    /// <c>v =&gt; MeshTls.CreateServerOptions(current, root, trustDomain, log, v)</c> with <c>current</c> from
    /// <c>CertificateManager.TryGetCurrent(waypointId, ...)</c>. Called per connection so a renewed certificate is
    /// used at once; the verification object carries the refusal reason into the log line.
    /// </summary>
    public required Func<TlsPeerVerification, SslServerAuthenticationOptions> ServerTls { get; init; }

    /// <summary>
    /// Decides one CONNECT before Kestrel sees it: return 200 to admit, or the status to refuse with (401 denied,
    /// 400 bad request, 503 not served here). Null admits every well-formed CONNECT (see <see cref="DefaultAdmit"/>).
    /// </summary>
    public Func<HboneRequest, ValueTask<int>>? Admit { get; init; }

    public Http2ConnectionOptions Http2 { get; init; } = Http2ConnectionOptions.Server;

    public int Backlog { get; init; } = 512;

    public ILogger Logger { get; init; } = NullLogger.Instance;

    /// <summary>400 unless the request is a CONNECT to an <c>ip:port</c> authority.</summary>
    public static int DefaultAdmit(HboneRequest request)
        => request.Method == "CONNECT" && request.Target is not null ? 200 : 400;
}

using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using Ambient.Http2;
using Microsoft.Extensions.Logging;

namespace Ambient.Hbone;

/// <summary>
/// Serves one accepted HBONE connection: TLS 1.3 (mutual, h2) with a handshake deadline, then HTTP/2 with the
/// server limits, handing each stream to the handler. Nothing a peer sends escapes this method as an exception.
/// </summary>
public static class HboneServer
{
    public static readonly TimeSpan HandshakeTimeout = TimeSpan.FromSeconds(10);

    /// <param name="tlsOptions">Server TLS options for this connection (certificate of the workload the listener speaks for).</param>
    /// <param name="peerIdentity">Reads the verified peer identity after the handshake.</param>
    /// <param name="describeFailure">Turns a handshake failure into the reason to log (the verifier knows why).</param>
    /// <param name="drain">When cancelled, the connection sends GOAWAY and ends once its open streams have.</param>
    public static async Task ServeAsync(
        Socket socket,
        SslServerAuthenticationOptions tlsOptions,
        Func<SslStream, string?> peerIdentity,
        Func<HboneRequest, Task> handler,
        Http2ConnectionOptions http2,
        ILogger log,
        Func<Exception, string>? describeFailure = null,
        CancellationToken cancellationToken = default,
        CancellationToken drain = default)
    {
        var local = (IPEndPoint)socket.LocalEndPoint!;
        var remote = (IPEndPoint)socket.RemoteEndPoint!;
        socket.NoDelay = true;
        var tls = new SslStream(new NetworkStream(socket, ownsSocket: true), leaveInnerStreamOpen: false);
        try
        {
            using (var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
            {
                timeout.CancelAfter(HandshakeTimeout);
                try
                {
                    await tls.AuthenticateAsServerAsync(tlsOptions, timeout.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                {
                    log.LogWarning("HBONE connection from {Remote} to {Local} refused: no TLS handshake within {Timeout} s", remote, local, HandshakeTimeout.TotalSeconds);
                    return;
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    var reason = describeFailure?.Invoke(e) ?? e.Message;
                    log.LogWarning("HBONE connection from {Remote} to {Local} refused: TLS handshake failed: {Reason}", remote, local, reason);
                    return;
                }
            }
            if (tls.NegotiatedApplicationProtocol != SslApplicationProtocol.Http2)
            {
                log.LogWarning("HBONE connection from {Remote} to {Local} refused: ALPN '{Alpn}' is not h2", remote, local, tls.NegotiatedApplicationProtocol.ToString());
                return;
            }
            var identity = peerIdentity(tls);
            var info = new Http2ConnectionInfo(local, remote, identity);
            var connection = new Http2Connection(tls, http2, info, stream => handler(new HboneRequest(stream, local, remote, identity)));
            tls = null; // owned by the connection now
            // Draining: GOAWAY so the peer opens new streams elsewhere; streams in flight finish.
            using var draining = drain.Register(static c => ((Http2Connection)c!).Drain(), connection);
            await connection.RunAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            log.LogWarning(e, "HBONE connection from {Remote} ended unexpectedly", remote);
        }
        finally
        {
            if (tls is not null)
                await tls.DisposeAsync().ConfigureAwait(false);
        }
    }
}

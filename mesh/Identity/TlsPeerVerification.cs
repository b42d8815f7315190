using System.Net;

namespace Ambient.Identity;

/// <summary>
/// Per-connection state for one mTLS handshake, passed to <see cref="MeshTls.CreateServerOptions"/> or
/// <see cref="MeshTls.CreateClientOptions"/>: the remote endpoint goes in (for log lines), the
/// certificate verification outcome comes out. After <c>AuthenticateAs*Async</c> throws,
/// <see cref="FailureReason"/> says why the peer was refused; it stays null when the handshake failed
/// before certificates were checked (e.g. protocol or ALPN mismatch), so fall back to the exception.
/// Use a fresh instance per connection; options carrying one must not be shared between connections.
/// </summary>
public sealed class TlsPeerVerification
{
    private TlsVerificationResult? _result;

    public TlsPeerVerification(EndPoint? remoteEndPoint = null)
    {
        RemoteEndPoint = remoteEndPoint;
    }

    public EndPoint? RemoteEndPoint { get; }

    /// <summary>Set by the validation callback; null until it ran.</summary>
    public TlsVerificationResult? Result => Volatile.Read(ref _result);

    public SpiffeId? PeerIdentity => Result?.PeerIdentity;

    public string? FailureReason => Result?.FailureReason;

    /// <summary>The best explanation for a failed handshake: our refusal reason, else the exception's message.</summary>
    public string Describe(Exception? handshakeException)
    {
        if (FailureReason is { } reason)
        {
            return reason;
        }

        // SslStream's outer message is "Authentication failed, see inner exception."; the OpenSSL detail is deeper.
        var messages = new List<string>();
        for (var ex = handshakeException; ex is not null; ex = ex.InnerException)
        {
            messages.Add(ex.Message);
        }

        return messages.Count == 0 ? "TLS handshake failed" : string.Join(" -> ", messages);
    }

    internal void Record(TlsVerificationResult result) => Volatile.Write(ref _result, result);
}

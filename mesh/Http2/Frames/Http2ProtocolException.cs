namespace Ambient.Http2.Frames;

/// <summary>
/// A protocol violation by the peer. <see cref="StreamId"/> 0 means a connection error (GOAWAY and close);
/// otherwise only that stream is reset (RFC 9113 §5.4).
/// </summary>
public sealed class Http2ProtocolException(Http2ErrorCode code, string message, int streamId = 0) : Exception(message)
{
    public Http2ErrorCode Code { get; } = code;
    public int StreamId { get; } = streamId;
    public bool IsConnectionError => StreamId == 0;

    public static Http2ProtocolException Connection(Http2ErrorCode code, string message) => new(code, message);
    public static Http2ProtocolException Stream(int streamId, Http2ErrorCode code, string message) => new(code, message, streamId);
}

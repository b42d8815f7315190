using System.Buffers;
using System.Buffers.Binary;

namespace Ambient.Http2.Frames;

/// <summary>
/// Pure frame parsing: splits frames off a byte sequence and validates each type's fixed layout
/// (RFC 9113 §6). No I/O and no connection state beyond what is passed in.
/// </summary>
public static class FrameReader
{
    /// <summary>The client connection preface (RFC 9113 §3.4).</summary>
    public static ReadOnlySpan<byte> ClientPreface => "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"u8;

    /// <summary>
    /// Takes one whole frame off the front of <paramref name="buffer"/>. Returns false when more bytes are needed.
    /// A frame longer than <paramref name="maxFrameSize"/> (our advertised SETTINGS_MAX_FRAME_SIZE) is a
    /// FRAME_SIZE_ERROR before its payload is buffered, so a peer cannot make us hold 16 MB for one frame.
    /// </summary>
    public static bool TryReadFrame(ref ReadOnlySequence<byte> buffer, int maxFrameSize, out FrameHeader header, out ReadOnlySequence<byte> payload)
    {
        payload = default;
        header = default;
        if (buffer.Length < FrameHeader.Size)
            return false;
        Span<byte> raw = stackalloc byte[FrameHeader.Size];
        buffer.Slice(0, FrameHeader.Size).CopyTo(raw);
        header = FrameHeader.Read(raw);
        if (header.Length > maxFrameSize)
            throw Http2ProtocolException.Connection(Http2ErrorCode.FrameSizeError, $"{header.Type} frame of {header.Length} bytes exceeds the maximum frame size {maxFrameSize}");
        if (buffer.Length < FrameHeader.Size + header.Length)
            return false;
        payload = buffer.Slice(FrameHeader.Size, header.Length);
        buffer = buffer.Slice(payload.End);
        return true;
    }

    /// <summary>Validates the per-type size and stream-id rules that do not depend on stream state.</summary>
    public static void ValidateLayout(in FrameHeader h)
    {
        switch (h.Type)
        {
            case FrameType.Data:
            case FrameType.Headers:
            case FrameType.Continuation:
                if (h.StreamId == 0)
                    throw Http2ProtocolException.Connection(Http2ErrorCode.ProtocolError, $"{h.Type} frame on stream 0");
                break;
            case FrameType.Priority:
                if (h.StreamId == 0)
                    throw Http2ProtocolException.Connection(Http2ErrorCode.ProtocolError, "PRIORITY frame on stream 0");
                if (h.Length != 5)
                    throw Http2ProtocolException.Stream(h.StreamId, Http2ErrorCode.FrameSizeError, $"PRIORITY frame length {h.Length}, expected 5");
                break;
            case FrameType.RstStream:
                if (h.StreamId == 0)
                    throw Http2ProtocolException.Connection(Http2ErrorCode.ProtocolError, "RST_STREAM frame on stream 0");
                if (h.Length != 4)
                    throw Http2ProtocolException.Connection(Http2ErrorCode.FrameSizeError, $"RST_STREAM frame length {h.Length}, expected 4");
                break;
            case FrameType.Settings:
                if (h.StreamId != 0)
                    throw Http2ProtocolException.Connection(Http2ErrorCode.ProtocolError, $"SETTINGS frame on stream {h.StreamId}");
                if (h.HasFlag(FrameFlags.Ack) && h.Length != 0)
                    throw Http2ProtocolException.Connection(Http2ErrorCode.FrameSizeError, "SETTINGS ACK with a payload");
                if (h.Length % 6 != 0)
                    throw Http2ProtocolException.Connection(Http2ErrorCode.FrameSizeError, $"SETTINGS frame length {h.Length} is not a multiple of 6");
                break;
            case FrameType.Ping:
                if (h.StreamId != 0)
                    throw Http2ProtocolException.Connection(Http2ErrorCode.ProtocolError, $"PING frame on stream {h.StreamId}");
                if (h.Length != 8)
                    throw Http2ProtocolException.Connection(Http2ErrorCode.FrameSizeError, $"PING frame length {h.Length}, expected 8");
                break;
            case FrameType.GoAway:
                if (h.StreamId != 0)
                    throw Http2ProtocolException.Connection(Http2ErrorCode.ProtocolError, $"GOAWAY frame on stream {h.StreamId}");
                if (h.Length < 8)
                    throw Http2ProtocolException.Connection(Http2ErrorCode.FrameSizeError, $"GOAWAY frame length {h.Length}, expected at least 8");
                break;
            case FrameType.WindowUpdate:
                if (h.Length != 4)
                    throw Http2ProtocolException.Connection(Http2ErrorCode.FrameSizeError, $"WINDOW_UPDATE frame length {h.Length}, expected 4");
                break;
            case FrameType.PushPromise:
                // We always advertise SETTINGS_ENABLE_PUSH=0, and clients may never push.
                throw Http2ProtocolException.Connection(Http2ErrorCode.ProtocolError, "PUSH_PROMISE received although push is disabled");
        }
    }

    /// <summary>Strips padding (and, for HEADERS, the priority fields) and returns the frame's content.</summary>
    public static ReadOnlySequence<byte> GetContent(in FrameHeader h, in ReadOnlySequence<byte> payload)
    {
        var content = payload;
        int padLength = 0;
        if ((h.Type == FrameType.Data || h.Type == FrameType.Headers) && h.HasFlag(FrameFlags.Padded))
        {
            if (content.Length < 1)
                throw Http2ProtocolException.Connection(Http2ErrorCode.FrameSizeError, $"padded {h.Type} frame without a pad length");
            padLength = content.FirstSpan[0];
            content = content.Slice(1);
        }
        if (h.Type == FrameType.Headers && h.HasFlag(FrameFlags.Priority))
        {
            if (content.Length < 5)
                throw Http2ProtocolException.Connection(Http2ErrorCode.FrameSizeError, "HEADERS frame too short for its priority fields");
            content = content.Slice(5);
        }
        if (padLength > content.Length)
            throw Http2ProtocolException.Connection(Http2ErrorCode.ProtocolError, $"{h.Type} padding {padLength} exceeds the frame payload");
        return content.Slice(0, content.Length - padLength);
    }

    public static uint ReadUInt32(in ReadOnlySequence<byte> payload, int offset = 0)
    {
        Span<byte> b = stackalloc byte[4];
        payload.Slice(offset, 4).CopyTo(b);
        return BinaryPrimitives.ReadUInt32BigEndian(b);
    }

    /// <summary>WINDOW_UPDATE increment; zero is a PROTOCOL_ERROR on the frame's stream (or the connection).</summary>
    public static int ReadWindowIncrement(in FrameHeader h, in ReadOnlySequence<byte> payload)
    {
        int increment = (int)(ReadUInt32(payload) & 0x7FFF_FFFF);
        if (increment == 0)
            throw new Http2ProtocolException(Http2ErrorCode.ProtocolError, "WINDOW_UPDATE with a zero increment", h.StreamId);
        return increment;
    }

    public static ulong ReadPingPayload(in ReadOnlySequence<byte> payload)
    {
        Span<byte> b = stackalloc byte[8];
        payload.CopyTo(b);
        return BinaryPrimitives.ReadUInt64BigEndian(b);
    }

    /// <summary>Parses a SETTINGS payload into <paramref name="target"/>; values the RFC forbids throw.</summary>
    public static void ReadSettings(in ReadOnlySequence<byte> payload, Http2Settings target, List<(SettingId Id, uint Value)>? applied = null)
    {
        Span<byte> entry = stackalloc byte[6];
        var reader = new SequenceReader<byte>(payload);
        while (reader.TryCopyTo(entry))
        {
            reader.Advance(6);
            var id = (SettingId)BinaryPrimitives.ReadUInt16BigEndian(entry);
            uint value = BinaryPrimitives.ReadUInt32BigEndian(entry[2..]);
            target.Apply(id, value);
            applied?.Add((id, value));
        }
    }

    public static (int LastStreamId, Http2ErrorCode Code) ReadGoAway(in ReadOnlySequence<byte> payload)
        => ((int)(ReadUInt32(payload) & 0x7FFF_FFFF), (Http2ErrorCode)ReadUInt32(payload, 4));
}

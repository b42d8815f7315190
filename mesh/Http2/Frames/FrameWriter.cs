using System.Buffers;
using System.Buffers.Binary;

namespace Ambient.Http2.Frames;

/// <summary>Pure frame serialisation into an <see cref="IBufferWriter{T}"/>. No I/O, no locking.</summary>
public static class FrameWriter
{
    public static void WriteHeader(IBufferWriter<byte> output, int length, FrameType type, FrameFlags flags, int streamId)
    {
        new FrameHeader(length, type, flags, streamId).Write(output.GetSpan(FrameHeader.Size));
        output.Advance(FrameHeader.Size);
    }

    public static void WriteSettings(IBufferWriter<byte> output, ReadOnlySpan<(SettingId Id, uint Value)> settings)
    {
        WriteHeader(output, settings.Length * 6, FrameType.Settings, FrameFlags.None, 0);
        foreach (var (id, value) in settings)
        {
            var span = output.GetSpan(6);
            BinaryPrimitives.WriteUInt16BigEndian(span, (ushort)id);
            BinaryPrimitives.WriteUInt32BigEndian(span[2..], value);
            output.Advance(6);
        }
    }

    public static void WriteSettingsAck(IBufferWriter<byte> output)
        => WriteHeader(output, 0, FrameType.Settings, FrameFlags.Ack, 0);

    public static void WritePing(IBufferWriter<byte> output, ulong opaque, bool ack)
    {
        WriteHeader(output, 8, FrameType.Ping, ack ? FrameFlags.Ack : FrameFlags.None, 0);
        BinaryPrimitives.WriteUInt64BigEndian(output.GetSpan(8), opaque);
        output.Advance(8);
    }

    public static void WriteWindowUpdate(IBufferWriter<byte> output, int streamId, int increment)
    {
        WriteHeader(output, 4, FrameType.WindowUpdate, FrameFlags.None, streamId);
        BinaryPrimitives.WriteUInt32BigEndian(output.GetSpan(4), (uint)increment & 0x7FFF_FFFF);
        output.Advance(4);
    }

    public static void WriteRstStream(IBufferWriter<byte> output, int streamId, Http2ErrorCode code)
    {
        WriteHeader(output, 4, FrameType.RstStream, FrameFlags.None, streamId);
        BinaryPrimitives.WriteUInt32BigEndian(output.GetSpan(4), (uint)code);
        output.Advance(4);
    }

    public static void WriteGoAway(IBufferWriter<byte> output, int lastStreamId, Http2ErrorCode code, ReadOnlySpan<byte> debugData = default)
    {
        WriteHeader(output, 8 + debugData.Length, FrameType.GoAway, FrameFlags.None, 0);
        var span = output.GetSpan(8 + debugData.Length);
        BinaryPrimitives.WriteUInt32BigEndian(span, (uint)lastStreamId & 0x7FFF_FFFF);
        BinaryPrimitives.WriteUInt32BigEndian(span[4..], (uint)code);
        debugData.CopyTo(span[8..]);
        output.Advance(8 + debugData.Length);
    }

    /// <summary>Writes a DATA frame: header then the payload bytes (the one copy into the output buffer).</summary>
    public static void WriteData(IBufferWriter<byte> output, int streamId, ReadOnlySpan<byte> data, bool endStream)
    {
        WriteHeader(output, data.Length, FrameType.Data, endStream ? FrameFlags.EndStream : FrameFlags.None, streamId);
        output.Write(data);
    }

    /// <summary>
    /// Writes an encoded header block as one HEADERS frame followed by as many CONTINUATION frames as the
    /// peer's maximum frame size requires.
    /// </summary>
    public static void WriteHeaders(IBufferWriter<byte> output, int streamId, ReadOnlySpan<byte> block, bool endStream, int maxFrameSize)
    {
        int first = Math.Min(block.Length, maxFrameSize);
        var flags = (endStream ? FrameFlags.EndStream : FrameFlags.None) | (first == block.Length ? FrameFlags.EndHeaders : FrameFlags.None);
        WriteHeader(output, first, FrameType.Headers, flags, streamId);
        output.Write(block[..first]);
        block = block[first..];
        while (!block.IsEmpty)
        {
            int n = Math.Min(block.Length, maxFrameSize);
            WriteHeader(output, n, FrameType.Continuation, n == block.Length ? FrameFlags.EndHeaders : FrameFlags.None, streamId);
            output.Write(block[..n]);
            block = block[n..];
        }
    }
}

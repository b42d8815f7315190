using System.Buffers.Binary;

namespace Ambient.Http2.Frames;

/// <summary>The fixed 9-octet frame header (RFC 9113 §4.1).</summary>
public readonly record struct FrameHeader(int Length, FrameType Type, FrameFlags Flags, int StreamId)
{
    public const int Size = 9;

    public bool HasFlag(FrameFlags flag) => (Flags & flag) != 0;

    public static FrameHeader Read(ReadOnlySpan<byte> src)
    {
        int length = (src[0] << 16) | (src[1] << 8) | src[2];
        // The reserved high bit of the stream identifier is ignored on receipt.
        int streamId = (int)(BinaryPrimitives.ReadUInt32BigEndian(src[5..]) & 0x7FFF_FFFF);
        return new FrameHeader(length, (FrameType)src[3], (FrameFlags)src[4], streamId);
    }

    public void Write(Span<byte> dst)
    {
        dst[0] = (byte)(Length >> 16);
        dst[1] = (byte)(Length >> 8);
        dst[2] = (byte)Length;
        dst[3] = (byte)Type;
        dst[4] = (byte)Flags;
        BinaryPrimitives.WriteUInt32BigEndian(dst[5..], (uint)StreamId & 0x7FFF_FFFF);
    }
}

using System.Buffers;
using Ambient.Http2.Frames;

namespace Ambient.Tests.Http2;

public class FrameCodecTests
{
    private static ReadOnlySequence<byte> Bytes(Action<ArrayBufferWriter<byte>> write)
    {
        var w = new ArrayBufferWriter<byte>();
        write(w);
        return new ReadOnlySequence<byte>(w.WrittenMemory);
    }

    private static (FrameHeader, ReadOnlySequence<byte>) ReadOne(ReadOnlySequence<byte> buffer, int max = 16384)
    {
        Assert.True(FrameReader.TryReadFrame(ref buffer, max, out var h, out var p));
        Assert.Equal(0, buffer.Length);
        return (h, p);
    }

    [Fact]
    public void Header_round_trips_all_fields_and_ignores_the_reserved_bit()
    {
        var h = new FrameHeader(0x123456, FrameType.Headers, FrameFlags.EndHeaders | FrameFlags.EndStream, 0x7FFFFFFF);
        var raw = new byte[9];
        h.Write(raw);
        Assert.Equal(h, FrameHeader.Read(raw));
        raw[5] |= 0x80; // reserved bit set by a sloppy peer
        Assert.Equal(0x7FFFFFFF, FrameHeader.Read(raw).StreamId);
    }

    [Fact]
    public void Frames_are_read_only_when_complete_even_across_segments()
    {
        var all = Bytes(w => { FrameWriter.WritePing(w, 42, ack: false); FrameWriter.WriteRstStream(w, 3, Http2ErrorCode.Cancel); }).ToArray();
        for (int cut = 0; cut <= all.Length; cut++)
        {
            var seq = TestSequence.Split(all, cut);
            int frames = 0;
            while (FrameReader.TryReadFrame(ref seq, 16384, out var h, out var p))
            {
                frames++;
                if (h.Type == FrameType.Ping) Assert.Equal(42UL, FrameReader.ReadPingPayload(p));
                if (h.Type == FrameType.RstStream) Assert.Equal(Http2ErrorCode.Cancel, (Http2ErrorCode)FrameReader.ReadUInt32(p));
            }
            Assert.Equal(2, frames);
        }
        var partial = new ReadOnlySequence<byte>(all.AsMemory(0, 12));
        Assert.False(FrameReader.TryReadFrame(ref partial, 16384, out _, out _));
    }

    [Fact]
    public void Oversized_frame_is_a_frame_size_error_before_its_payload_arrives()
    {
        var raw = new byte[9];
        new FrameHeader(16385, FrameType.Data, 0, 1).Write(raw);
        var seq = new ReadOnlySequence<byte>(raw);
        var e = Assert.Throws<Http2ProtocolException>(() => FrameReader.TryReadFrame(ref seq, 16384, out _, out _));
        Assert.Equal(Http2ErrorCode.FrameSizeError, e.Code);
        Assert.True(e.IsConnectionError);
    }

    public static TheoryData<FrameType, int, int, FrameFlags, Http2ErrorCode, bool> BadLayouts => new()
    {
        { FrameType.Data, 0, 4, 0, Http2ErrorCode.ProtocolError, true },
        { FrameType.Headers, 0, 4, 0, Http2ErrorCode.ProtocolError, true },
        { FrameType.Continuation, 0, 4, 0, Http2ErrorCode.ProtocolError, true },
        { FrameType.Priority, 0, 5, 0, Http2ErrorCode.ProtocolError, true },
        { FrameType.Priority, 1, 4, 0, Http2ErrorCode.FrameSizeError, false },
        { FrameType.RstStream, 0, 4, 0, Http2ErrorCode.ProtocolError, true },
        { FrameType.RstStream, 1, 5, 0, Http2ErrorCode.FrameSizeError, true },
        { FrameType.Settings, 1, 0, 0, Http2ErrorCode.ProtocolError, true },
        { FrameType.Settings, 0, 6, FrameFlags.Ack, Http2ErrorCode.FrameSizeError, true },
        { FrameType.Settings, 0, 7, 0, Http2ErrorCode.FrameSizeError, true },
        { FrameType.Ping, 1, 8, 0, Http2ErrorCode.ProtocolError, true },
        { FrameType.Ping, 0, 7, 0, Http2ErrorCode.FrameSizeError, true },
        { FrameType.GoAway, 1, 8, 0, Http2ErrorCode.ProtocolError, true },
        { FrameType.GoAway, 0, 7, 0, Http2ErrorCode.FrameSizeError, true },
        { FrameType.WindowUpdate, 0, 3, 0, Http2ErrorCode.FrameSizeError, true },
        { FrameType.PushPromise, 1, 4, 0, Http2ErrorCode.ProtocolError, true },
    };

    [Theory]
    [MemberData(nameof(BadLayouts))]
    public void Bad_layouts_are_rejected_with_the_rfc_error(FrameType type, int stream, int length, FrameFlags flags, Http2ErrorCode code, bool connectionError)
    {
        var e = Assert.Throws<Http2ProtocolException>(() => FrameReader.ValidateLayout(new FrameHeader(length, type, flags, stream)));
        Assert.Equal(code, e.Code);
        Assert.Equal(connectionError, e.IsConnectionError);
    }

    [Fact]
    public void Good_layouts_pass_and_unknown_types_are_accepted()
    {
        FrameReader.ValidateLayout(new FrameHeader(8, FrameType.Ping, 0, 0));
        FrameReader.ValidateLayout(new FrameHeader(12, FrameType.Settings, 0, 0));
        FrameReader.ValidateLayout(new FrameHeader(4, FrameType.WindowUpdate, 0, 5));
        FrameReader.ValidateLayout(new FrameHeader(100, (FrameType)0xfa, 0, 0));
    }

    [Fact]
    public void Padding_and_priority_are_stripped_and_excess_padding_rejected()
    {
        // HEADERS: pad length 2, priority 5 bytes, 3 bytes of block, 2 of padding.
        byte[] payload = [2, 0, 0, 0, 1, 16, 0xA, 0xB, 0xC, 0, 0];
        var h = new FrameHeader(payload.Length, FrameType.Headers, FrameFlags.Padded | FrameFlags.Priority | FrameFlags.EndHeaders, 1);
        Assert.Equal(new byte[] { 0xA, 0xB, 0xC }, FrameReader.GetContent(h, new ReadOnlySequence<byte>(payload)).ToArray());

        byte[] data = [5, 1, 2];
        var d = new FrameHeader(data.Length, FrameType.Data, FrameFlags.Padded, 1);
        Assert.Equal(Http2ErrorCode.ProtocolError, Assert.Throws<Http2ProtocolException>(() => FrameReader.GetContent(d, new ReadOnlySequence<byte>(data))).Code);
        var empty = new FrameHeader(0, FrameType.Data, FrameFlags.Padded, 1);
        Assert.Throws<Http2ProtocolException>(() => FrameReader.GetContent(empty, ReadOnlySequence<byte>.Empty));
    }

    [Fact]
    public void Settings_round_trip_and_invalid_values_are_rejected()
    {
        var (h, p) = ReadOne(Bytes(w => FrameWriter.WriteSettings(w, [(SettingId.InitialWindowSize, 1 << 20), (SettingId.MaxFrameSize, 1 << 20), (SettingId.EnablePush, 0), ((SettingId)0x99, 7)])));
        var s = new Http2Settings();
        FrameReader.ValidateLayout(h);
        FrameReader.ReadSettings(p, s);
        Assert.Equal(1 << 20, s.InitialWindowSize);
        Assert.Equal(1 << 20, s.MaxFrameSize);
        Assert.False(s.EnablePush);

        Assert.Equal(Http2ErrorCode.FlowControlError, Assert.Throws<Http2ProtocolException>(() => new Http2Settings().Apply(SettingId.InitialWindowSize, 0x80000000)).Code);
        Assert.Equal(Http2ErrorCode.ProtocolError, Assert.Throws<Http2ProtocolException>(() => new Http2Settings().Apply(SettingId.MaxFrameSize, 16383)).Code);
        Assert.Equal(Http2ErrorCode.ProtocolError, Assert.Throws<Http2ProtocolException>(() => new Http2Settings().Apply(SettingId.MaxFrameSize, 1 << 24)).Code);
        Assert.Equal(Http2ErrorCode.ProtocolError, Assert.Throws<Http2ProtocolException>(() => new Http2Settings().Apply(SettingId.EnablePush, 2)).Code);
    }

    [Fact]
    public void Window_update_zero_increment_is_a_protocol_error_on_its_stream()
    {
        var (h, p) = ReadOne(Bytes(w => FrameWriter.WriteWindowUpdate(w, 7, 0)));
        var e = Assert.Throws<Http2ProtocolException>(() => FrameReader.ReadWindowIncrement(h, p));
        Assert.Equal(7, e.StreamId);
        var (h0, p0) = ReadOne(Bytes(w => FrameWriter.WriteWindowUpdate(w, 0, 0x7FFFFFFF)));
        Assert.Equal(0x7FFFFFFF, FrameReader.ReadWindowIncrement(h0, p0));
    }

    [Fact]
    public void GoAway_round_trips_with_debug_data()
    {
        var (h, p) = ReadOne(Bytes(w => FrameWriter.WriteGoAway(w, 41, Http2ErrorCode.EnhanceYourCalm, "calm"u8)));
        FrameReader.ValidateLayout(h);
        Assert.Equal((41, Http2ErrorCode.EnhanceYourCalm), FrameReader.ReadGoAway(p));
        Assert.Equal("calm"u8.ToArray(), p.Slice(8).ToArray());
    }

    [Fact]
    public void Header_blocks_larger_than_a_frame_are_split_into_continuations()
    {
        var block = Enumerable.Range(0, 40000).Select(i => (byte)i).ToArray();
        var seq = Bytes(w => FrameWriter.WriteHeaders(w, 5, block, endStream: true, maxFrameSize: 16384));
        var frames = new List<(FrameHeader H, byte[] P)>();
        while (FrameReader.TryReadFrame(ref seq, 16384, out var h, out var p))
            frames.Add((h, p.ToArray()));
        Assert.Equal([FrameType.Headers, FrameType.Continuation, FrameType.Continuation], frames.Select(f => f.H.Type));
        Assert.True(frames[0].H.HasFlag(FrameFlags.EndStream));
        Assert.False(frames[0].H.HasFlag(FrameFlags.EndHeaders));
        Assert.True(frames[2].H.HasFlag(FrameFlags.EndHeaders));
        Assert.Equal(block, frames.SelectMany(f => f.P).ToArray());
    }
}

/// <summary>Builds multi-segment sequences, so parsers are tested across segment boundaries.</summary>
internal sealed class TestSequence : ReadOnlySequenceSegment<byte>
{
    private TestSequence(ReadOnlyMemory<byte> memory, long index) { Memory = memory; RunningIndex = index; }

    public static ReadOnlySequence<byte> Split(byte[] data, int cut)
    {
        if (cut <= 0 || cut >= data.Length)
            return new ReadOnlySequence<byte>(data);
        var first = new TestSequence(data.AsMemory(0, cut), 0);
        var second = new TestSequence(data.AsMemory(cut), cut);
        first.Next = second;
        return new ReadOnlySequence<byte>(first, 0, second, second.Memory.Length);
    }
}

namespace Ambient.Http2.Frames;

/// <summary>RFC 9113 §6 frame types.</summary>
public enum FrameType : byte
{
    Data = 0x0,
    Headers = 0x1,
    Priority = 0x2,
    RstStream = 0x3,
    Settings = 0x4,
    PushPromise = 0x5,
    Ping = 0x6,
    GoAway = 0x7,
    WindowUpdate = 0x8,
    Continuation = 0x9,
}

/// <summary>Frame flags; the same bit means different things per type (ACK and END_STREAM are both 0x1).</summary>
[Flags]
public enum FrameFlags : byte
{
    None = 0,
    EndStream = 0x1,
    Ack = 0x1,
    EndHeaders = 0x4,
    Padded = 0x8,
    Priority = 0x20,
}

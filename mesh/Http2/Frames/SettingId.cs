namespace Ambient.Http2.Frames;

/// <summary>RFC 9113 §6.5.2 setting identifiers.</summary>
public enum SettingId : ushort
{
    HeaderTableSize = 0x1,
    EnablePush = 0x2,
    MaxConcurrentStreams = 0x3,
    InitialWindowSize = 0x4,
    MaxFrameSize = 0x5,
    MaxHeaderListSize = 0x6,
}

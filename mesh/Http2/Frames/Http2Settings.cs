namespace Ambient.Http2.Frames;

/// <summary>One side's SETTINGS values (RFC 9113 §6.5.2), starting from the protocol defaults.</summary>
public sealed class Http2Settings
{
    public const int DefaultInitialWindowSize = 65_535;
    public const int MinMaxFrameSize = 16_384;
    public const int MaxMaxFrameSize = 16_777_215;
    public const int MaxWindowSize = int.MaxValue;

    public uint HeaderTableSize { get; set; } = 4096;
    public bool EnablePush { get; set; } = true;
    public uint MaxConcurrentStreams { get; set; } = uint.MaxValue;
    public int InitialWindowSize { get; set; } = DefaultInitialWindowSize;
    public int MaxFrameSize { get; set; } = MinMaxFrameSize;
    public uint MaxHeaderListSize { get; set; } = uint.MaxValue;

    /// <summary>Applies one received setting, rejecting values the RFC forbids. Unknown identifiers are ignored.</summary>
    public void Apply(SettingId id, uint value)
    {
        switch (id)
        {
            case SettingId.HeaderTableSize:
                HeaderTableSize = value;
                break;
            case SettingId.EnablePush:
                if (value > 1)
                    throw Http2ProtocolException.Connection(Http2ErrorCode.ProtocolError, $"SETTINGS_ENABLE_PUSH must be 0 or 1, got {value}");
                EnablePush = value == 1;
                break;
            case SettingId.MaxConcurrentStreams:
                MaxConcurrentStreams = value;
                break;
            case SettingId.InitialWindowSize:
                if (value > MaxWindowSize)
                    throw Http2ProtocolException.Connection(Http2ErrorCode.FlowControlError, $"SETTINGS_INITIAL_WINDOW_SIZE {value} exceeds 2^31-1");
                InitialWindowSize = (int)value;
                break;
            case SettingId.MaxFrameSize:
                if (value < MinMaxFrameSize || value > MaxMaxFrameSize)
                    throw Http2ProtocolException.Connection(Http2ErrorCode.ProtocolError, $"SETTINGS_MAX_FRAME_SIZE {value} outside [16384, 16777215]");
                MaxFrameSize = (int)value;
                break;
            case SettingId.MaxHeaderListSize:
                MaxHeaderListSize = value;
                break;
        }
    }
}

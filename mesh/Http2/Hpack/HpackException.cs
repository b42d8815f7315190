using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;

namespace Ambient.Http2.Hpack;

/// <summary>What went wrong while decoding a header block.</summary>
public enum HpackError
{
    /// <summary>The block is malformed (RFC 7540 COMPRESSION_ERROR): the connection must be closed.</summary>
    Compression,

    /// <summary>The decoded header list exceeds the configured SETTINGS_MAX_HEADER_LIST_SIZE.</summary>
    HeaderListTooLarge,
}

/// <summary>Raised by the HPACK decoder (and <see cref="Huffman.Decode"/>) on malformed or oversized input.</summary>
public sealed class HpackException : Exception
{
    public HpackException(HpackError error, string message)
        : base(message)
    {
        Error = error;
    }

    public HpackException(HpackError error, string message, Exception? innerException)
        : base(message, innerException)
    {
        Error = error;
    }

    public HpackError Error { get; }

    [DoesNotReturn, StackTraceHidden]
    internal static void ThrowCompression(string message) =>
        throw new HpackException(HpackError.Compression, message);

    [DoesNotReturn, StackTraceHidden]
    internal static void ThrowTooLarge(string message) =>
        throw new HpackException(HpackError.HeaderListTooLarge, message);
}

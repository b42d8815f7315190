using System.Buffers;
using System.IO.Pipelines;

namespace Ambient.Waypoint.Transport;

/// <summary>Tells an HTTP/2 prior-knowledge client from an HTTP/1 one by its first bytes, consuming nothing.</summary>
internal static class Http2Preface
{
    private static ReadOnlySpan<byte> Preface => "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"u8;

    /// <summary>
    /// Reads only while what arrived still matches the preface: an HTTP/1 request differs at its first byte, so
    /// only an HTTP/2 client (or a stalling one, bounded by the caller's token) is waited for. The bytes stay in the
    /// pipe for Kestrel, and no flow-control credit is returned for them yet.
    /// </summary>
    public static async ValueTask<bool> IsHttp2Async(PipeReader input, CancellationToken cancellationToken)
    {
        while (true)
        {
            var result = await input.ReadAsync(cancellationToken).ConfigureAwait(false);
            var buffer = result.Buffer;
            var match = Compare(buffer);
            input.AdvanceTo(buffer.Start, match is null ? buffer.End : buffer.Start);
            if (match is { } decided)
                return decided;
            if (result.IsCompleted)
                return false; // ended inside a partial preface: Kestrel's HTTP/1 parser will answer it
        }
    }

    /// <summary>True: a full preface; false: not one; null: a matching prefix, need more bytes.</summary>
    private static bool? Compare(ReadOnlySequence<byte> buffer)
    {
        Span<byte> head = stackalloc byte[24];
        int n = (int)Math.Min(buffer.Length, Preface.Length);
        buffer.Slice(0, n).CopyTo(head);
        if (!head[..n].SequenceEqual(Preface[..n]))
            return false;
        return n == Preface.Length ? true : null;
    }
}

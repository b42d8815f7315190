using System.Net.Sockets;
using System.Text;

namespace Ambient.Harness.Load;

/// <summary>The HTTP/1.1 requests of the load tests, and a minimal response reader for nginx's fixed answers.</summary>
public static class Http1
{
    public static readonly byte[] KeepAliveRequest = Encoding.ASCII.GetBytes("GET / HTTP/1.1\r\nHost: server\r\nUser-Agent: ambient-perf\r\n\r\n");
    public static readonly byte[] CloseRequest = Encoding.ASCII.GetBytes("GET / HTTP/1.1\r\nHost: server\r\nUser-Agent: ambient-perf\r\nConnection: close\r\n\r\n");
}

/// <summary>
/// Reads one response at a time from a keep-alive connection: the header block, then Content-Length bytes of body.
/// Enough for nginx's answers (no chunking); anything else is an error. Allocation-free after construction.
/// </summary>
public sealed class ResponseReader(Socket socket)
{
    private static readonly byte[] HeaderEnd = "\r\n\r\n"u8.ToArray();
    private static readonly byte[] ContentLength = "content-length:"u8.ToArray();
    private readonly byte[] _buffer = new byte[16 * 1024];
    private int _start, _end;

    /// <summary>Reads a whole response and returns its status code. Throws IOException if the peer closes first.</summary>
    public async ValueTask<int> ReadAsync(CancellationToken cancel)
    {
        int headerEnd;
        while ((headerEnd = _buffer.AsSpan(_start, _end - _start).IndexOf(HeaderEnd)) < 0)
            await FillAsync(cancel);
        var (status, length) = ParseHead(_buffer.AsSpan(_start, headerEnd));
        int bodyStart = _start + headerEnd + HeaderEnd.Length;
        _start = bodyStart; // the head is parsed; only the body's bytes are needed from here
        while (_end - _start < length)
            await FillAsync(cancel);
        _start += length;
        return status;
    }

    private async ValueTask FillAsync(CancellationToken cancel)
    {
        if (_start == _end) _start = _end = 0;
        else if (_end == _buffer.Length)
        {
            Buffer.BlockCopy(_buffer, _start, _buffer, 0, _end - _start);
            _end -= _start;
            _start = 0;
        }
        if (_end == _buffer.Length) throw new IOException("response head larger than the buffer");
        int n = await socket.ReceiveAsync(_buffer.AsMemory(_end), SocketFlags.None, cancel);
        if (n == 0) throw new IOException("connection closed before the response was complete");
        _end += n;
    }

    private static (int Status, int Length) ParseHead(ReadOnlySpan<byte> head)
    {
        // "HTTP/1.1 200 OK"
        if (head.Length < 12 || !int.TryParse(head.Slice(9, 3), out int status)) throw new IOException("malformed status line");
        int length = 0;
        foreach (var range in head.Split("\r\n"u8))
        {
            var line = head[range];
            if (line.Length > ContentLength.Length && Ascii.EqualsIgnoreCase(line[..ContentLength.Length], ContentLength))
                length = int.Parse(line[ContentLength.Length..].Trim((byte)' '));
        }
        return (status, length);
    }
}

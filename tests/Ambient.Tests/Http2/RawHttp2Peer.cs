using System.Buffers;
using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Threading.Channels;
using Ambient.Http2;
using Ambient.Http2.Frames;
using Ambient.Http2.Hpack;

namespace Ambient.Tests.Http2;

/// <summary>One frame as the raw peer received it.</summary>
internal readonly record struct RawFrame(FrameHeader Header, byte[] Payload)
{
    public FrameType Type => Header.Type;
    public int StreamId => Header.StreamId;
    public Http2ErrorCode ErrorCode => (Http2ErrorCode)BinaryPrimitives.ReadUInt32BigEndian(Payload.AsSpan(Type == FrameType.GoAway ? 4 : 0));
    public override string ToString() => Type switch
    {
        FrameType.GoAway or FrameType.RstStream => $"{Type}({StreamId}, {ErrorCode})",
        _ => $"{Type}({StreamId}, {Header.Flags}, {Header.Length} B)",
    };
}

/// <summary>
/// A hand-driven HTTP/2 client over plaintext loopback TCP: builds frames (valid or not) with
/// <see cref="FrameWriter"/> and <see cref="HpackEncoder"/>, sends them when flushed, and reads the server's frames
/// back with <see cref="FrameReader"/>. Acks the server's SETTINGS and answers its PINGs unless told not to.
/// </summary>
internal sealed class RawHttp2Peer : IAsyncDisposable
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(5);

    private readonly Socket _socket;
    private readonly NetworkStream _stream;
    private readonly HpackEncoder _encoder = new();
    private readonly ArrayBufferWriter<byte> _out = new(4096);
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private byte[] _in = new byte[64 * 1024];
    private int _inStart, _inEnd;

    private RawHttp2Peer(Socket socket)
    {
        _socket = socket;
        _stream = new NetworkStream(socket, ownsSocket: true);
    }

    public bool AutoAckSettings { get; set; } = true;
    public bool AutoAnswerPing { get; set; } = true;
    /// <summary>Every frame read so far, for assertion messages.</summary>
    public List<RawFrame> Received { get; } = new();
    /// <summary>The connection ended with a TCP reset rather than a clean end-of-stream.</summary>
    public bool SawReset { get; private set; }
    public bool SawEnd { get; private set; }

    public static async Task<RawHttp2Peer> ConnectAsync(EndPoint endPoint, int? receiveBufferSize = null)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        if (receiveBufferSize is { } size)
            socket.ReceiveBufferSize = size; // before connecting, so the TCP window stays small
        await socket.ConnectAsync(endPoint).WaitAsync(Timeout);
        return new RawHttp2Peer(socket);
    }

    /// <summary>Connects and sends the client preface and an empty SETTINGS.</summary>
    public static async Task<RawHttp2Peer> HandshakeAsync(EndPoint endPoint, params (SettingId, uint)[] settings)
    {
        var peer = await ConnectAsync(endPoint);
        await peer.Preface().Settings(settings).FlushAsync();
        return peer;
    }

    // ------------------------------------------------------------------ building frames (sent on FlushAsync)

    public RawHttp2Peer Preface()
    {
        _out.Write(FrameReader.ClientPreface);
        return this;
    }

    public RawHttp2Peer Raw(ReadOnlySpan<byte> bytes)
    {
        _out.Write(bytes);
        return this;
    }

    /// <summary>Any frame, with a length field of our choosing (it may lie about the payload).</summary>
    public RawHttp2Peer Frame(FrameType type, FrameFlags flags, int streamId, ReadOnlySpan<byte> payload, int? length = null)
    {
        FrameWriter.WriteHeader(_out, length ?? payload.Length, type, flags, streamId);
        _out.Write(payload);
        return this;
    }

    public RawHttp2Peer Settings(params (SettingId Id, uint Value)[] settings)
    {
        FrameWriter.WriteSettings(_out, settings);
        return this;
    }

    public RawHttp2Peer SettingsAck()
    {
        FrameWriter.WriteSettingsAck(_out);
        return this;
    }

    public RawHttp2Peer Ping(ulong opaque, bool ack = false)
    {
        FrameWriter.WritePing(_out, opaque, ack);
        return this;
    }

    public RawHttp2Peer WindowUpdate(int streamId, uint increment)
    {
        Span<byte> b = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(b, increment);
        return Frame(FrameType.WindowUpdate, FrameFlags.None, streamId, b);
    }

    public RawHttp2Peer RstStream(int streamId, Http2ErrorCode code)
    {
        FrameWriter.WriteRstStream(_out, streamId, code);
        return this;
    }

    public RawHttp2Peer Data(int streamId, ReadOnlySpan<byte> data, bool endStream = false)
    {
        FrameWriter.WriteData(_out, streamId, data, endStream);
        return this;
    }

    /// <summary>HPACK-encodes with this peer's (stateful) encoder.</summary>
    public byte[] Encode(IReadOnlyList<HeaderField> headers)
    {
        var block = new ArrayBufferWriter<byte>();
        _encoder.Encode(headers.ToArray(), block);
        return block.WrittenSpan.ToArray();
    }

    public RawHttp2Peer Headers(int streamId, IReadOnlyList<HeaderField> headers, bool endStream = false)
    {
        FrameWriter.WriteHeaders(_out, streamId, Encode(headers), endStream, 16384);
        return this;
    }

    /// <summary>A HEADERS frame carrying an arbitrary block fragment.</summary>
    public RawHttp2Peer HeaderBlock(int streamId, ReadOnlySpan<byte> fragment, bool endHeaders = true, bool endStream = false)
        => Frame(FrameType.Headers, (endHeaders ? FrameFlags.EndHeaders : 0) | (endStream ? FrameFlags.EndStream : 0), streamId, fragment);

    public RawHttp2Peer Continuation(int streamId, ReadOnlySpan<byte> fragment, bool endHeaders)
        => Frame(FrameType.Continuation, endHeaders ? FrameFlags.EndHeaders : FrameFlags.None, streamId, fragment);

    public async Task FlushAsync()
    {
        var bytes = _out.WrittenMemory.ToArray();
        _out.ResetWrittenCount();
        await WriteAsync(bytes);
    }

    /// <summary>Like <see cref="FlushAsync"/> but a server that already hung up is not an error.</summary>
    public async Task<bool> TryFlushAsync()
    {
        try
        {
            await FlushAsync();
            return true;
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException)
        {
            return false;
        }
    }

    private async Task WriteAsync(ReadOnlyMemory<byte> bytes)
    {
        await _writeLock.WaitAsync();
        try
        {
            await _stream.WriteAsync(bytes).AsTask().WaitAsync(Timeout);
        }
        finally
        {
            _writeLock.Release();
        }
    }

    /// <summary>Sends FIN: we will send nothing more, but keep reading.</summary>
    public void HalfClose()
    {
        try { _socket.Shutdown(SocketShutdown.Send); } catch (Exception e) when (e is SocketException or ObjectDisposedException) { }
    }

    // ------------------------------------------------------------------ reading frames

    /// <summary>The next frame, or null once the connection has ended (end-of-stream or reset).</summary>
    public async Task<RawFrame?> ReadFrameAsync(TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? Timeout);
        while (true)
        {
            var buffer = new ReadOnlySequence<byte>(_in, _inStart, _inEnd - _inStart);
            if (FrameReader.TryReadFrame(ref buffer, 16 * 1024 * 1024, out var header, out var payload))
            {
                var frame = new RawFrame(header, payload.ToArray());
                _inStart += FrameHeader.Size + header.Length;
                Received.Add(frame);
                await AutoAnswerAsync(frame);
                return frame;
            }
            if (SawEnd)
                return null;
            if (_inStart > 0)
            {
                Buffer.BlockCopy(_in, _inStart, _in, 0, _inEnd - _inStart);
                _inEnd -= _inStart;
                _inStart = 0;
            }
            if (_inEnd == _in.Length)
                Array.Resize(ref _in, _in.Length * 2);
            int n;
            try
            {
                n = await _stream.ReadAsync(_in.AsMemory(_inEnd), cts.Token);
            }
            catch (OperationCanceledException)
            {
                throw new TimeoutException($"no frame within {(timeout ?? Timeout).TotalSeconds} s; received so far: {Describe()}");
            }
            catch (Exception e) when (e is IOException or SocketException)
            {
                SawReset = true;
                n = 0;
            }
            if (n == 0)
            {
                SawEnd = true;
                if (_inEnd - _inStart == 0)
                    return null;
                continue; // a partial frame left over: report the end
            }
            _inEnd += n;
        }
    }

    private async Task AutoAnswerAsync(RawFrame frame)
    {
        bool ack = frame.Header.HasFlag(FrameFlags.Ack);
        if (frame.Type == FrameType.Settings && !ack && AutoAckSettings)
        {
            var w = new ArrayBufferWriter<byte>();
            FrameWriter.WriteSettingsAck(w);
            await TryWriteAsync(w.WrittenMemory);
        }
        else if (frame.Type == FrameType.Ping && !ack && AutoAnswerPing)
        {
            var w = new ArrayBufferWriter<byte>();
            FrameWriter.WritePing(w, BinaryPrimitives.ReadUInt64BigEndian(frame.Payload), ack: true);
            await TryWriteAsync(w.WrittenMemory);
        }
    }

    private async Task TryWriteAsync(ReadOnlyMemory<byte> bytes)
    {
        try { await WriteAsync(bytes); } catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException) { }
    }

    /// <summary>Reads until a frame matches; null if the connection ends first.</summary>
    public async Task<RawFrame?> ReadUntilAsync(Func<RawFrame, bool> match, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? Timeout);
        while (true)
        {
            var left = deadline - DateTime.UtcNow;
            if (left <= TimeSpan.Zero)
                throw new TimeoutException($"no matching frame; received: {Describe()}");
            var frame = await ReadFrameAsync(left);
            if (frame is null || match(frame.Value))
                return frame;
        }
    }

    /// <summary>Reads until GOAWAY and returns its error code; fails if the connection ends without one.</summary>
    public async Task<Http2ErrorCode> ExpectGoAwayAsync(TimeSpan? timeout = null)
    {
        var frame = await ReadUntilAsync(f => f.Type == FrameType.GoAway, timeout);
        Assert.True(frame is not null, $"connection ended without GOAWAY; received: {Describe()}");
        return frame.Value.ErrorCode;
    }

    /// <summary>Reads until RST_STREAM on the stream and returns its code; fails on GOAWAY or end.</summary>
    public async Task<Http2ErrorCode> ExpectRstAsync(int streamId, TimeSpan? timeout = null)
    {
        var frame = await ReadUntilAsync(f => (f.Type == FrameType.RstStream && f.StreamId == streamId) || f.Type == FrameType.GoAway, timeout);
        Assert.True(frame is { Type: FrameType.RstStream }, $"expected RST_STREAM on {streamId}; received: {Describe()}");
        return frame.Value.ErrorCode;
    }

    /// <summary>Proves the connection still works: a PING is answered (and no GOAWAY came first).</summary>
    public async Task ExpectAliveAsync(ulong opaque = 0x0123456789abcdef)
    {
        await Ping(opaque).FlushAsync();
        var frame = await ReadUntilAsync(f => (f.Type == FrameType.Ping && f.Header.HasFlag(FrameFlags.Ack) && BinaryPrimitives.ReadUInt64BigEndian(f.Payload) == opaque)
                                             || f.Type == FrameType.GoAway);
        Assert.True(frame is { Type: FrameType.Ping }, $"connection not alive; received: {Describe()}");
    }

    /// <summary>Reads (and drops) frames until the server closes; true if it did so within the timeout.</summary>
    public async Task<bool> ReadToEndAsync(TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? Timeout);
        while (true)
        {
            var left = deadline - DateTime.UtcNow;
            if (left <= TimeSpan.Zero)
                return false;
            try
            {
                if (await ReadFrameAsync(left) is null)
                    return true;
            }
            catch (TimeoutException)
            {
                return false;
            }
        }
    }

    public string Describe()
    {
        var frames = Received.Count <= 30 ? string.Join(", ", Received)
            : string.Join(", ", Received.Take(10)) + $", ... {Received.Count - 30} more ..., " + string.Join(", ", Received.Skip(Received.Count - 20));
        return frames + (SawReset ? " <reset>" : SawEnd ? " <end>" : "");
    }

    public ValueTask DisposeAsync()
    {
        _stream.Dispose();
        _writeLock.Dispose();
        return ValueTask.CompletedTask;
    }
}

/// <summary>A loopback TCP listener running our engine as the server for every accepted connection.</summary>
internal sealed class LoopbackServer : IAsyncDisposable
{
    public sealed record Accepted(Http2Connection Connection, Task Run);
    public sealed record Client(Http2Connection Connection, Task Run) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            Connection.Abort("test done");
            await Run.WaitAsync(RawHttp2Peer.Timeout);
        }
    }

    private readonly Socket _listener = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
    private readonly Channel<Accepted> _accepted = Channel.CreateUnbounded<Accepted>();
    private readonly ConcurrentQueue<Accepted> _all = new();
    private readonly Func<Http2Stream, Task> _handler;
    private readonly Task _acceptLoop;

    public LoopbackServer(Func<Http2Stream, Task>? handler = null, Func<Http2ConnectionOptions, Http2ConnectionOptions>? configure = null)
    {
        _handler = handler ?? Handlers.Dispatch;
        Options = configure?.Invoke(Http2ConnectionOptions.Server) ?? Http2ConnectionOptions.Server;
        _listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        _listener.Listen(512);
        EndPoint = (IPEndPoint)_listener.LocalEndPoint!;
        _acceptLoop = AcceptLoopAsync();
    }

    public IPEndPoint EndPoint { get; }
    public Http2ConnectionOptions Options { get; }
    public IEnumerable<Accepted> All => _all;

    private async Task AcceptLoopAsync()
    {
        while (true)
        {
            Socket socket;
            try
            {
                socket = await _listener.AcceptAsync();
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                _accepted.Writer.TryComplete();
                return;
            }
            socket.NoDelay = true;
            var connection = new Http2Connection(new NetworkStream(socket, ownsSocket: true), Options,
                new Http2ConnectionInfo(socket.LocalEndPoint, socket.RemoteEndPoint), _handler);
            var accepted = new Accepted(connection, Task.Run(() => connection.RunAsync()));
            _all.Enqueue(accepted);
            _accepted.Writer.TryWrite(accepted);
        }
    }

    /// <summary>The server side of the next accepted connection.</summary>
    public async Task<Accepted> NextAsync() => await _accepted.Reader.ReadAsync().AsTask().WaitAsync(RawHttp2Peer.Timeout);

    /// <summary>Connects our engine as a client and waits for the server's SETTINGS.</summary>
    public async Task<Client> ConnectClientAsync(Func<Http2ConnectionOptions, Http2ConnectionOptions>? configure = null)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await socket.ConnectAsync(EndPoint).WaitAsync(RawHttp2Peer.Timeout);
        var options = configure?.Invoke(Http2ConnectionOptions.Client) ?? Http2ConnectionOptions.Client;
        var connection = new Http2Connection(new NetworkStream(socket, ownsSocket: true), options,
            new Http2ConnectionInfo(socket.LocalEndPoint, socket.RemoteEndPoint));
        var run = Task.Run(() => connection.RunAsync());
        await connection.Ready.WaitAsync(RawHttp2Peer.Timeout);
        return new Client(connection, run);
    }

    /// <summary>A fresh, well-behaved client still gets a stream echoed.</summary>
    public async Task AssertServesFreshConnectionAsync()
    {
        await using var client = await ConnectClientAsync();
        var stream = client.Connection.TryOpenStream(Handlers.Connect("echo"));
        Assert.NotNull(stream);
        Assert.Equal("200", HeaderRules.Get(await stream.ResponseHeaders.WaitAsync(RawHttp2Peer.Timeout), ":status"));
        var payload = Streams.Pattern(100_000, seed: 7);
        var echoed = Streams.ReadAllAsync(stream.Input);
        await stream.WriteAsync(payload).AsTask().WaitAsync(RawHttp2Peer.Timeout);
        stream.CompleteOutput();
        Assert.Equal(payload, await echoed.WaitAsync(RawHttp2Peer.Timeout));
    }

    /// <summary>Every server connection's RunAsync ended (or ends within the timeout) without throwing.</summary>
    public async Task AssertAllRunsEndCleanlyAsync(TimeSpan? timeout = null)
    {
        foreach (var a in _all)
        {
            try
            {
                await a.Run.WaitAsync(timeout ?? RawHttp2Peer.Timeout);
            }
            catch (TimeoutException)
            {
                Assert.Fail($"server connection from {a.Connection.Info.RemoteEndPoint} still running: {a.Connection.CloseReason}");
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        _listener.Dispose();
        await _acceptLoop;
        foreach (var a in _all)
            a.Connection.Abort("server stopping");
        foreach (var a in _all)
            await a.Run.WaitAsync(RawHttp2Peer.Timeout);
    }
}

/// <summary>Server stream handlers for the tests, picked by the CONNECT :authority host.</summary>
internal static class Handlers
{
    public static readonly HeaderField[] Ok = [new(":status", "200")];

    public static HeaderField[] Connect(string host) => [new(":method", "CONNECT"), new(":authority", host + ":443")];

    public static Task Dispatch(Http2Stream stream)
    {
        var authority = HeaderRules.Get(stream.RequestHeaders, ":authority") ?? "";
        return authority.Split(':')[0] switch
        {
            "hold" => Hold(stream),
            "firehose" => Firehose(stream),
            "noreply" => Task.CompletedTask,
            _ => Echo(stream),
        };
    }

    /// <summary>Answers 200 and copies the input back to the output until the input ends, then ends too.</summary>
    public static async Task Echo(Http2Stream stream)
    {
        await stream.SendHeadersAsync(Ok);
        var input = stream.Input;
        try
        {
            while (true)
            {
                var result = await input.ReadAsync();
                foreach (var segment in result.Buffer)
                    await stream.WriteAsync(segment);
                input.AdvanceTo(result.Buffer.End);
                if (result.IsCompleted)
                    break;
            }
            stream.CompleteOutput();
        }
        catch (Http2StreamResetException)
        {
        }
        finally
        {
            await input.CompleteAsync();
        }
    }

    /// <summary>Answers 200, then holds whatever arrives without consuming it, until the stream ends or resets.</summary>
    public static async Task Hold(Http2Stream stream)
    {
        await stream.SendHeadersAsync(Ok);
        var input = stream.Input;
        try
        {
            while (true)
            {
                var result = await input.ReadAsync();
                input.AdvanceTo(result.Buffer.Start, result.Buffer.End);
                if (result.IsCompleted)
                    break;
            }
        }
        catch (Http2StreamResetException)
        {
        }
    }

    /// <summary>Answers 200, then sends as fast as flow control allows until the stream resets.</summary>
    public static async Task Firehose(Http2Stream stream)
    {
        await stream.SendHeadersAsync(Ok);
        var chunk = new byte[100_000]; // not a divisor of any output budget: writes must be cut to fit it
        try
        {
            while (true)
                await stream.WriteAsync(chunk);
        }
        catch (Http2StreamResetException)
        {
        }
    }
}

internal static class Streams
{
    public static byte[] Pattern(int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    public static async Task<byte[]> ReadAllAsync(PipeReader input)
    {
        var all = new MemoryStream();
        while (true)
        {
            var result = await input.ReadAsync();
            foreach (var segment in result.Buffer)
                all.Write(segment.Span);
            input.AdvanceTo(result.Buffer.End);
            if (result.IsCompleted)
                break;
        }
        await input.CompleteAsync();
        return all.ToArray();
    }

    /// <summary>Reads to the end, hashing; returns the byte count and SHA-256.</summary>
    public static async Task<(long Length, byte[] Sha256)> ReadHashAsync(PipeReader input)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        long length = 0;
        while (true)
        {
            var result = await input.ReadAsync();
            foreach (var segment in result.Buffer)
                hash.AppendData(segment.Span);
            length += result.Buffer.Length;
            input.AdvanceTo(result.Buffer.End);
            if (result.IsCompleted)
                break;
        }
        await input.CompleteAsync();
        return (length, hash.GetHashAndReset());
    }

    /// <summary>Writes <paramref name="total"/> seeded pseudo-random bytes in 64 KB writes, ends the stream, returns their SHA-256.</summary>
    public static async Task<byte[]> WriteHashAsync(Http2Stream stream, long total, int seed, bool complete = true)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var random = new Random(seed);
        var chunk = new byte[64 * 1024];
        for (long left = total; left > 0;)
        {
            int n = (int)Math.Min(chunk.Length, left);
            random.NextBytes(chunk.AsSpan(0, n));
            hash.AppendData(chunk.AsSpan(0, n));
            await stream.WriteAsync(chunk.AsMemory(0, n));
            left -= n;
        }
        if (complete)
            stream.CompleteOutput();
        return hash.GetHashAndReset();
    }
}

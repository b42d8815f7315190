using Ambient.Waypoint.Proxy;

namespace Ambient.Tests.Waypoint;

/// <summary>
/// <see cref="ReplayableRequestBody"/> on its own: bytes pass through as they arrive and are kept up to the limit,
/// a rewind replays them and then continues with the rest, and a body over the limit streams once.
/// </summary>
public class ReplayableRequestBodyTests
{
    /// <summary>A client body that arrives in small pieces and cannot seek (like Kestrel's request stream).</summary>
    private sealed class TrickleStream(byte[] data, int piece) : Stream
    {
        private int _offset;

        public int ZeroByteReads { get; private set; }

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (buffer.IsEmpty)
            {
                ZeroByteReads++;
                return ValueTask.FromResult(0);
            }
            int n = Math.Min(Math.Min(piece, buffer.Length), data.Length - _offset);
            data.AsSpan(_offset, n).CopyTo(buffer.Span);
            _offset += n;
            return ValueTask.FromResult(n);
        }

        public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer.AsMemory(offset, count)).AsTask().Result;
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }

    private static byte[] Bytes(int length)
    {
        var data = new byte[length];
        new Random(length).NextBytes(data);
        return data;
    }

    private static async Task<byte[]> ReadAsync(Stream stream, int max = int.MaxValue)
    {
        var result = new MemoryStream();
        var buffer = new byte[3000];
        int read;
        while (result.Length < max && (read = await stream.ReadAsync(buffer.AsMemory(0, (int)Math.Min(buffer.Length, max - result.Length)))) > 0)
            result.Write(buffer, 0, read);
        return result.ToArray();
    }

    [Theory]
    [InlineData(1024, null)]
    [InlineData(60 * 1024, null)]
    [InlineData(60 * 1024, 60 * 1024L)]
    public async Task A_body_read_in_part_is_replayed_whole_and_then_continued_from_the_client(int size, long? declared)
    {
        var data = Bytes(size);
        await using var body = new ReplayableRequestBody(new TrickleStream(data, 1000), declared);
        var first = await ReadAsync(body, max: size / 2); // the upstream answered before reading it all
        Assert.Equal(data[..first.Length], first);
        Assert.True(body.CanReplay);
        body.Rewind();
        Assert.Equal(data, await ReadAsync(body));
        body.Rewind();
        Assert.Equal(data, await ReadAsync(body)); // and again, now all from the buffer
        Assert.Equal(size, body.BytesRead);
    }

    [Fact]
    public async Task A_body_over_the_limit_streams_once_intact_and_cannot_be_replayed()
    {
        var data = Bytes(10_000);
        await using var body = new ReplayableRequestBody(new TrickleStream(data, 1000), declaredLength: null, limit: 4096);
        Assert.Equal(data, await ReadAsync(body));
        Assert.True(body.Overflowed);
        Assert.False(body.CanReplay);
        Assert.Throws<InvalidOperationException>(body.Rewind);
    }

    [Fact]
    public async Task A_zero_byte_read_waits_on_the_client_only_when_nothing_is_left_to_replay()
    {
        var data = Bytes(5000);
        var source = new TrickleStream(data, 1000);
        await using var body = new ReplayableRequestBody(source, declaredLength: null);
        await ReadAsync(body, max: 2000);
        body.Rewind();
        Assert.Equal(0, await body.ReadAsync(Memory<byte>.Empty));
        Assert.Equal(0, source.ZeroByteReads); // kept bytes are there: no need to ask the client
        Assert.Equal(data, await ReadAsync(body));
        Assert.Equal(0, await body.ReadAsync(Memory<byte>.Empty));
    }

    [Fact]
    public async Task A_mirror_gets_the_whole_body_once_it_is_complete_and_false_when_it_was_not_kept()
    {
        var data = Bytes(20_000);
        var kept = new ReplayableRequestBody(new TrickleStream(data, 1000), declaredLength: null);
        var complete = kept.AddMirror();
        kept.StopKeeping(); // the response went out, but the mirror still needs the body
        Assert.False(complete.IsCompleted);
        await ReadAsync(kept);
        Assert.True(await complete);
        await kept.DisposeAsync(); // the request ends before the mirror is sent
        Assert.Equal(data, kept.Kept.ToArray());
        kept.ReleaseMirror();

        var large = new ReplayableRequestBody(new TrickleStream(Bytes(10_000), 1000), declaredLength: null, limit: 4096);
        var never = large.AddMirror();
        await ReadAsync(large);
        Assert.False(await never);
        large.ReleaseMirror();
        await large.DisposeAsync();

        var unfinished = new ReplayableRequestBody(new TrickleStream(Bytes(10_000), 1000), declaredLength: null);
        var cut = unfinished.AddMirror();
        await ReadAsync(unfinished, max: 3000);
        await unfinished.DisposeAsync(); // the request ended (client gone) before the body did
        Assert.False(await cut);
        unfinished.ReleaseMirror();
    }

    [Fact]
    public async Task The_rest_of_a_body_the_upstream_did_not_read_is_read_for_the_mirrors()
    {
        var data = Bytes(30_000);
        await using var body = new ReplayableRequestBody(new TrickleStream(data, 1000), declaredLength: null);
        var complete = body.AddMirror();
        await ReadAsync(body, max: 5000);
        await body.ReadRestForMirrorsAsync(CancellationToken.None);
        Assert.True(await complete);
        Assert.Equal(data, body.Kept.ToArray());
        body.ReleaseMirror();
    }

    [Fact]
    public async Task Once_the_response_is_committed_without_mirrors_the_body_is_no_longer_kept()
    {
        var data = Bytes(20_000);
        await using var body = new ReplayableRequestBody(new TrickleStream(data, 1000), declaredLength: null);
        var first = await ReadAsync(body, max: 4000);
        body.StopKeeping();
        Assert.False(body.CanReplay);
        byte[] rest = await ReadAsync(body);
        Assert.Equal(data, first.Concat(rest).ToArray()); // the stream itself goes on intact
    }

    [Fact]
    public async Task A_read_after_the_request_ended_sees_the_end()
    {
        var body = new ReplayableRequestBody(new TrickleStream(Bytes(5000), 1000), declaredLength: null);
        await ReadAsync(body, max: 1000);
        await body.DisposeAsync();
        Assert.Equal(0, await body.ReadAsync(new byte[100]));
    }
}

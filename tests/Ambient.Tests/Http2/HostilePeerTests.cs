using System.Buffers;
using System.Buffers.Binary;
using System.Diagnostics;
using System.Text;
using Ambient.Http2;
using Ambient.Http2.Frames;
using Ambient.Http2.Hpack;
using Xunit.Abstractions;

namespace Ambient.Tests.Http2;

/// <summary>
/// A raw peer breaks the protocol (or abuses it within the rules); the server must answer with the right GOAWAY or
/// RST_STREAM code, end cleanly (RunAsync does not throw) and go on serving fresh connections.
/// </summary>
public class HostilePeerTests(ITestOutputHelper output)
{
    private static readonly TimeSpan T = RawHttp2Peer.Timeout;

    /// <summary>Handshakes, sends what <paramref name="attack"/> builds, expects GOAWAY with one of the codes, then a clean close.</summary>
    private static async Task AssertGoAwayAsync(Action<RawHttp2Peer> attack, Http2ErrorCode[] codes,
        Func<Http2ConnectionOptions, Http2ConnectionOptions>? configure = null, bool handshake = true)
    {
        await using var server = new LoopbackServer(configure: configure);
        await using (var peer = handshake ? await RawHttp2Peer.HandshakeAsync(server.EndPoint) : await RawHttp2Peer.ConnectAsync(server.EndPoint))
        {
            peer.AutoAckSettings = handshake; // before our own SETTINGS an ACK would be a protocol error of its own
            attack(peer);
            await peer.TryFlushAsync();
            var code = await peer.ExpectGoAwayAsync();
            Assert.True(codes.Contains(code), $"GOAWAY {code}, expected {string.Join(" or ", codes)}; received: {peer.Describe()}");
            peer.HalfClose();
            Assert.True(await peer.ReadToEndAsync(), "server did not close after GOAWAY");
            Assert.False(peer.SawReset, "server reset the connection instead of closing it: " + peer.Describe());
        }
        await server.AssertServesFreshConnectionAsync();
        await server.AssertAllRunsEndCleanlyAsync();
    }

    private static Task AssertGoAwayAsync(Action<RawHttp2Peer> attack, Http2ErrorCode code,
        Func<Http2ConnectionOptions, Http2ConnectionOptions>? configure = null, bool handshake = true)
        => AssertGoAwayAsync(attack, [code], configure, handshake);

    private static byte[] HpackInt(int value, int prefixBits, byte flags)
    {
        var b = new byte[8];
        return b[..IntegerCodec.Encode(value, prefixBits, flags, b)];
    }

    private static byte[] HpackString(string s) => [.. HpackInt(s.Length, 7, 0), .. Encoding.ASCII.GetBytes(s)];

    // ------------------------------------------------------------------ preface and SETTINGS

    [Fact]
    public async Task An_HTTP1_request_instead_of_the_preface_is_refused_at_once()
    {
        var sw = Stopwatch.StartNew();
        await AssertGoAwayAsync(p => p.Raw("GET / HTTP/1.1\r\n\r\n"u8), Http2ErrorCode.ProtocolError, handshake: false);
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(3), "waited for more bytes of a preface that was already wrong");
    }

    [Fact]
    public async Task A_connection_that_sends_nothing_is_closed_after_PrefaceTimeout()
    {
        var timeout = TimeSpan.FromMilliseconds(300);
        await using var server = new LoopbackServer(configure: o => o with { PrefaceTimeout = timeout });
        await using (var peer = await RawHttp2Peer.ConnectAsync(server.EndPoint))
        {
            peer.AutoAckSettings = false; // truly silent: not even an ACK of the server's SETTINGS
            var sw = Stopwatch.StartNew();
            Assert.True(await peer.ReadToEndAsync(TimeSpan.FromSeconds(3)), "still open: " + peer.Describe());
            Assert.True(sw.Elapsed >= timeout - TimeSpan.FromMilliseconds(50) && sw.Elapsed < timeout + TimeSpan.FromSeconds(2), $"{sw.Elapsed}: {peer.Describe()} / {string.Join(";", server.All.Select(a => a.Connection.CloseReason))}");
            Assert.Contains(peer.Received, f => f.Type == FrameType.GoAway && f.ErrorCode == Http2ErrorCode.SettingsTimeout);
        }
        // Same for a peer that sends the preface but never its SETTINGS.
        await using (var peer = await RawHttp2Peer.ConnectAsync(server.EndPoint))
        {
            peer.AutoAckSettings = false; // an ACK would be a first frame other than SETTINGS: a protocol error, not a timeout
            await peer.Preface().FlushAsync();
            Assert.True(await peer.ReadToEndAsync(TimeSpan.FromSeconds(3)), "still open: " + peer.Describe());
        }
        await server.AssertServesFreshConnectionAsync();
        await server.AssertAllRunsEndCleanlyAsync();
    }

    [Fact]
    public Task A_first_frame_other_than_SETTINGS_is_a_protocol_error()
        => AssertGoAwayAsync(p => p.Preface().Ping(1), Http2ErrorCode.ProtocolError, handshake: false);

    [Fact]
    public Task A_SETTINGS_ACK_as_the_first_frame_is_a_protocol_error()
        => AssertGoAwayAsync(p => p.Preface().SettingsAck(), Http2ErrorCode.ProtocolError, handshake: false);

    [Fact]
    public Task A_frame_above_the_max_frame_size_is_a_frame_size_error()
        => AssertGoAwayAsync(p => p.Frame(FrameType.Data, FrameFlags.None, 1, [], length: Http2ConnectionOptions.MiB + 1), Http2ErrorCode.FrameSizeError);

    [Fact]
    public Task SETTINGS_with_a_length_not_a_multiple_of_6_is_a_frame_size_error()
        => AssertGoAwayAsync(p => p.Frame(FrameType.Settings, FrameFlags.None, 0, new byte[7]), Http2ErrorCode.FrameSizeError);

    [Fact]
    public Task SETTINGS_ACK_with_a_payload_is_a_frame_size_error()
        => AssertGoAwayAsync(p => p.Frame(FrameType.Settings, FrameFlags.Ack, 0, new byte[6]), Http2ErrorCode.FrameSizeError);

    [Fact]
    public Task SETTINGS_INITIAL_WINDOW_SIZE_above_2_31_is_a_flow_control_error()
        => AssertGoAwayAsync(p => p.Settings((SettingId.InitialWindowSize, 0x8000_0000)), Http2ErrorCode.FlowControlError);

    [Theory]
    [InlineData(16_383u)]
    [InlineData(16_777_216u)]
    public Task SETTINGS_MAX_FRAME_SIZE_out_of_range_is_a_protocol_error(uint value)
        => AssertGoAwayAsync(p => p.Settings((SettingId.MaxFrameSize, value)), Http2ErrorCode.ProtocolError);

    [Fact]
    public Task SETTINGS_ENABLE_PUSH_other_than_0_or_1_is_a_protocol_error()
        => AssertGoAwayAsync(p => p.Settings((SettingId.EnablePush, 2)), Http2ErrorCode.ProtocolError);

    // ------------------------------------------------------------------ header blocks

    [Theory]
    [InlineData(new byte[] { 0x80 })]                                      // indexed field 0
    [InlineData(new byte[] { 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F })]  // index overflowing an int
    [InlineData(new byte[] { 0xC0 })]                                      // dynamic index 64, table empty
    [InlineData(new byte[] { 0x40, 0x05, 0x61 })]                          // literal name longer than the block
    [InlineData(new byte[] { 0x3F, 0xE9, 0x26 })]                          // table size update to 5000 > 4096
    public Task Garbage_HPACK_is_a_compression_error(byte[] block)
        => AssertGoAwayAsync(p => p.HeaderBlock(1, block), Http2ErrorCode.CompressionError);

    [Fact]
    public Task A_header_list_bomb_of_indexed_references_is_refused()
    {
        // One 4000-byte entry in the dynamic table, then 20 one-byte references to it: ~80 KB decoded from ~4 KB.
        byte[] block = [0x40, .. HpackString("x"), .. HpackString(new string('a', 4000)), .. Enumerable.Repeat((byte)(0x80 | 62), 20)];
        return AssertGoAwayAsync(p => p.HeaderBlock(1, block), [Http2ErrorCode.EnhanceYourCalm, Http2ErrorCode.CompressionError]);
    }

    [Fact]
    public Task A_CONTINUATION_flood_is_refused()
        => AssertGoAwayAsync(p =>
        {
            var block = p.Encode(Handlers.Connect("echo"));
            p.HeaderBlock(1, block.AsSpan(0, 1), endHeaders: false);
            for (int i = 0; i < 100; i++)
                p.Continuation(1, [], endHeaders: false);
        }, Http2ErrorCode.EnhanceYourCalm);

    [Fact]
    public Task A_header_block_over_the_size_limit_across_CONTINUATIONs_is_refused()
        => AssertGoAwayAsync(p =>
        {
            p.HeaderBlock(1, new byte[30_000], endHeaders: false);
            p.Continuation(1, new byte[30_000], endHeaders: false);
            p.Continuation(1, new byte[30_000], endHeaders: true);
        }, [Http2ErrorCode.EnhanceYourCalm, Http2ErrorCode.CompressionError]);

    [Fact]
    public Task A_frame_interleaved_in_a_header_block_is_a_protocol_error()
        => AssertGoAwayAsync(p =>
        {
            var block = p.Encode(Handlers.Connect("echo"));
            p.HeaderBlock(1, block.AsSpan(0, 2), endHeaders: false).Ping(7);
        }, Http2ErrorCode.ProtocolError);

    [Fact]
    public Task A_CONTINUATION_for_another_stream_is_a_protocol_error()
        => AssertGoAwayAsync(p =>
        {
            var block = p.Encode(Handlers.Connect("echo"));
            p.HeaderBlock(1, block.AsSpan(0, 2), endHeaders: false).Continuation(3, block.AsSpan(2), endHeaders: true);
        }, Http2ErrorCode.ProtocolError);

    [Fact]
    public Task A_CONTINUATION_without_HEADERS_is_a_protocol_error()
        => AssertGoAwayAsync(p => p.Continuation(1, [0x82], endHeaders: true), Http2ErrorCode.ProtocolError);

    [Fact]
    public async Task Malformed_request_headers_reset_the_stream_and_the_connection_survives()
    {
        await using var server = new LoopbackServer();
        await using var peer = await RawHttp2Peer.HandshakeAsync(server.EndPoint);
        await peer.Headers(1, [new(":method", "CONNECT"), new(":authority", "echo:1"), new("Upper-Case", "x")]).FlushAsync();
        Assert.Equal(Http2ErrorCode.ProtocolError, await peer.ExpectRstAsync(1));
        await peer.Headers(3, [new(":method", "CONNECT"), new(":authority", "echo:1"), new(":path", "/")]).FlushAsync(); // CONNECT with :path
        Assert.Equal(Http2ErrorCode.ProtocolError, await peer.ExpectRstAsync(3));
        await peer.Headers(5, [new(":method", "CONNECT"), new(":authority", "echo:1"), new("connection", "close")]).FlushAsync();
        Assert.Equal(Http2ErrorCode.ProtocolError, await peer.ExpectRstAsync(5));
        await peer.Headers(7, Handlers.Connect("echo")).FlushAsync();
        var answer = await peer.ReadUntilAsync(f => f.StreamId == 7);
        Assert.Equal(FrameType.Headers, answer?.Type);
        await peer.ExpectAliveAsync();
        await server.AssertServesFreshConnectionAsync();
    }

    // ------------------------------------------------------------------ stream identifiers and states

    [Fact]
    public Task An_even_stream_id_from_a_client_is_a_protocol_error()
        => AssertGoAwayAsync(p => p.Headers(2, Handlers.Connect("echo")), Http2ErrorCode.ProtocolError);

    [Fact]
    public Task A_decreasing_stream_id_is_a_protocol_error()
        => AssertGoAwayAsync(p => p.Headers(5, Handlers.Connect("hold")).Headers(3, Handlers.Connect("hold")), Http2ErrorCode.ProtocolError);

    [Fact]
    public Task DATA_on_an_idle_stream_is_a_protocol_error()
        => AssertGoAwayAsync(p => p.Data(7, new byte[10]), Http2ErrorCode.ProtocolError);

    [Fact]
    public Task RST_STREAM_on_an_idle_stream_is_a_protocol_error()
        => AssertGoAwayAsync(p => p.RstStream(9, Http2ErrorCode.Cancel), Http2ErrorCode.ProtocolError);

    [Fact]
    public Task PUSH_PROMISE_from_a_client_is_a_protocol_error()
        => AssertGoAwayAsync(p =>
        {
            p.Headers(1, Handlers.Connect("hold"));
            p.Frame(FrameType.PushPromise, FrameFlags.EndHeaders, 1, [0, 0, 0, 2, 0x82]);
        }, Http2ErrorCode.ProtocolError);

    [Fact]
    public async Task DATA_after_END_STREAM_resets_the_stream_with_STREAM_CLOSED()
    {
        await using var server = new LoopbackServer();
        await using var peer = await RawHttp2Peer.HandshakeAsync(server.EndPoint);
        await peer.Headers(1, Handlers.Connect("hold"), endStream: true).Data(1, new byte[5]).FlushAsync();
        Assert.Equal(Http2ErrorCode.StreamClosed, await peer.ExpectRstAsync(1));
        await peer.ExpectAliveAsync();
    }

    [Fact]
    public async Task Frames_in_flight_for_a_stream_the_server_reset_are_ignored()
    {
        await using var server = new LoopbackServer(configure: o => o with { MaxConcurrentStreams = 1 });
        await using var peer = await RawHttp2Peer.HandshakeAsync(server.EndPoint);
        await peer.Headers(1, Handlers.Connect("hold")).Headers(3, Handlers.Connect("hold")).FlushAsync();
        Assert.Equal(Http2ErrorCode.RefusedStream, await peer.ExpectRstAsync(3));
        // What a client had sent before it saw the refusal: body and trailers. No RST_STREAM storm, no GOAWAY.
        for (int i = 0; i < 5; i++)
            peer.Data(3, new byte[1000]);
        await peer.Headers(3, [new("x-trailer", "1")], endStream: true).FlushAsync();
        await peer.ExpectAliveAsync();
        Assert.Single(peer.Received, f => f.Type == FrameType.RstStream && f.StreamId == 3);
    }

    // ------------------------------------------------------------------ flow control

    [Fact]
    public Task DATA_beyond_the_stream_window_is_a_flow_control_error()
        => AssertFlowControlErrorAsync(o => o with { StreamWindow = 65_535 });

    [Fact]
    public Task DATA_beyond_the_connection_window_is_a_flow_control_error()
        => AssertFlowControlErrorAsync(o => o with { StreamWindow = 1 << 20, ConnectionWindow = 65_535 });

    private static async Task AssertFlowControlErrorAsync(Func<Http2ConnectionOptions, Http2ConnectionOptions> configure)
    {
        await using var server = new LoopbackServer(configure: configure);
        await using (var peer = await RawHttp2Peer.HandshakeAsync(server.EndPoint))
        {
            // "hold" never consumes, so no credit comes back while we overrun.
            await peer.Headers(1, Handlers.Connect("hold")).Data(1, new byte[40_000]).Data(1, new byte[25_536]).FlushAsync();
            var frame = await peer.ReadUntilAsync(f => f.Type == FrameType.GoAway || (f.Type == FrameType.RstStream && f.StreamId == 1));
            Assert.True(frame is not null, "no error: " + peer.Describe());
            Assert.Equal(Http2ErrorCode.FlowControlError, frame.Value.ErrorCode);
        }
        await server.AssertServesFreshConnectionAsync();
        await server.AssertAllRunsEndCleanlyAsync();
    }

    [Fact]
    public Task WINDOW_UPDATE_overflowing_the_connection_window_is_a_flow_control_error()
        => AssertGoAwayAsync(p => p.WindowUpdate(0, 0x7FFF_FFFF), Http2ErrorCode.FlowControlError);

    [Fact]
    public async Task WINDOW_UPDATE_overflowing_a_stream_window_resets_that_stream()
    {
        await using var server = new LoopbackServer();
        await using var peer = await RawHttp2Peer.HandshakeAsync(server.EndPoint);
        await peer.Headers(1, Handlers.Connect("hold")).WindowUpdate(1, 0x7FFF_FFFF).FlushAsync();
        Assert.Equal(Http2ErrorCode.FlowControlError, await peer.ExpectRstAsync(1));
        await peer.ExpectAliveAsync();
    }

    [Fact]
    public Task WINDOW_UPDATE_of_0_on_the_connection_is_a_protocol_error()
        => AssertGoAwayAsync(p => p.WindowUpdate(0, 0), Http2ErrorCode.ProtocolError);

    [Fact]
    public Task WINDOW_UPDATE_of_0_on_an_idle_stream_is_a_connection_error_not_a_reset()
        => AssertGoAwayAsync(p => p.WindowUpdate(11, 0), Http2ErrorCode.ProtocolError);

    [Fact]
    public async Task WINDOW_UPDATE_of_0_on_a_stream_resets_it()
    {
        await using var server = new LoopbackServer();
        await using var peer = await RawHttp2Peer.HandshakeAsync(server.EndPoint);
        await peer.Headers(1, Handlers.Connect("hold")).WindowUpdate(1, 0).FlushAsync();
        Assert.Equal(Http2ErrorCode.ProtocolError, await peer.ExpectRstAsync(1));
        await peer.ExpectAliveAsync();
    }

    [Fact]
    public async Task A_peer_that_never_reads_holds_at_most_MaxBufferedOutput_of_server_memory()
    {
        const int budget = 256 * 1024;
        await using var server = new LoopbackServer(configure: o => o with { MaxBufferedOutput = budget });
        // Large windows and frames: only the output budget limits what the server queues, in 100 KB DATA writes.
        await using var peer = await RawHttp2Peer.HandshakeAsync(server.EndPoint, (SettingId.InitialWindowSize, 0x7FFF_FFFF), (SettingId.MaxFrameSize, 1 << 20));
        var serverSide = (await server.NextAsync()).Connection;
        peer.WindowUpdate(0, 0x7FFF_FFFF - 65_535);
        for (int id = 1; id <= 19; id += 2)
            peer.Headers(id, Handlers.Connect("firehose"));
        await peer.FlushAsync(); // and never read: the socket buffers fill, then the server's output

        long peak = 0;
        var sw = Stopwatch.StartNew();
        while (sw.Elapsed < TimeSpan.FromSeconds(10) && peak < budget / 2)
        {
            peak = Math.Max(peak, serverSide.BufferedOutput);
            await Task.Delay(1);
        }
        Assert.True(peak >= budget / 2, $"the server output never backed up (peak {peak})");
        for (sw.Restart(); sw.Elapsed < TimeSpan.FromMilliseconds(500);)
        {
            peak = Math.Max(peak, serverSide.BufferedOutput);
            await Task.Delay(1);
        }
        output.WriteLine($"peak server output {peak} for a budget of {budget}");
        Assert.InRange(peak, 0, budget + 1024); // DATA strictly within the budget; the rest is a few control frames
        Assert.False(serverSide.Completion.IsCompleted, "the connection is stalled by its peer, not broken: " + serverSide.CloseReason);
    }

    [Fact]
    public async Task A_peer_still_sending_after_a_connection_error_still_receives_the_GOAWAY()
    {
        // The server has megabytes queued for the peer (in the kernel) when the peer commits a connection error,
        // and the peer keeps sending small frames. Closing the socket with that unread input would make the
        // kernel send a TCP reset and drop everything not yet transmitted, GOAWAY included.
        await using var server = new LoopbackServer();
        // A small receive buffer keeps most of what the server queued in the server's kernel, not yet transmitted.
        await using (var peer = await RawHttp2Peer.ConnectAsync(server.EndPoint, receiveBufferSize: 32 * 1024))
        {
            await peer.Preface().Settings((SettingId.InitialWindowSize, 0x7FFF_FFFF), (SettingId.MaxFrameSize, 1 << 20))
                .WindowUpdate(0, 0x7FFF_FFFF - 65_535).Headers(1, Handlers.Connect("firehose")).FlushAsync();
            await Task.Delay(300); // not reading: the server's socket buffer fills up
            await peer.Headers(2, Handlers.Connect("echo")).FlushAsync(); // even stream id: connection error
            using var stop = new CancellationTokenSource();
            var chatter = Task.Run(async () =>
            {
                while (!stop.IsCancellationRequested)
                {
                    await Task.Delay(2);
                    if (!await peer.WindowUpdate(0, 1).TryFlushAsync())
                        return;
                }
            });
            var code = await peer.ExpectGoAwayAsync(TimeSpan.FromSeconds(10));
            stop.Cancel();
            await chatter;
            Assert.Equal(Http2ErrorCode.ProtocolError, code);
            peer.HalfClose();
            Assert.True(await peer.ReadToEndAsync());
            Assert.False(peer.SawReset, "reset: " + peer.Describe());
        }
        await server.AssertAllRunsEndCleanlyAsync();
    }

    [Fact]
    public async Task A_handler_that_never_answers_gets_its_stream_reset_and_frees_its_slot()
    {
        await using var server = new LoopbackServer(configure: o => o with { MaxConcurrentStreams = 1 });
        await using var peer = await RawHttp2Peer.HandshakeAsync(server.EndPoint);
        await peer.Headers(1, Handlers.Connect("noreply")).FlushAsync();
        Assert.Equal(Http2ErrorCode.InternalError, await peer.ExpectRstAsync(1));
        await peer.Headers(3, Handlers.Connect("hold")).FlushAsync();
        var answer = await peer.ReadUntilAsync(f => f.StreamId == 3);
        Assert.True(answer is { Type: FrameType.Headers }, "the slot was not freed: " + peer.Describe());
    }

    // ------------------------------------------------------------------ floods

    [Fact]
    public Task A_PING_flood_is_refused_with_ENHANCE_YOUR_CALM()
        => AssertGoAwayAsync(p =>
        {
            for (int i = 0; i < 5000; i++)
                p.Ping((ulong)i);
        }, Http2ErrorCode.EnhanceYourCalm);

    [Fact]
    public Task A_SETTINGS_flood_is_refused_with_ENHANCE_YOUR_CALM()
        => AssertGoAwayAsync(p =>
        {
            for (int i = 0; i < 5000; i++)
                p.Settings();
        }, Http2ErrorCode.EnhanceYourCalm);

    [Fact]
    public Task An_empty_DATA_flood_is_refused_with_ENHANCE_YOUR_CALM()
        => AssertGoAwayAsync(p =>
        {
            p.Headers(1, Handlers.Connect("hold"));
            for (int i = 0; i < 5000; i++)
                p.Data(1, []);
        }, Http2ErrorCode.EnhanceYourCalm);

    [Fact]
    public Task Rapid_reset_is_refused_with_ENHANCE_YOUR_CALM()
        => AssertGoAwayAsync(p =>
        {
            for (int id = 1; id < 1000; id += 2)
                p.Headers(id, Handlers.Connect("echo")).RstStream(id, Http2ErrorCode.Cancel);
        }, Http2ErrorCode.EnhanceYourCalm);

    [Fact]
    public Task Ignoring_MaxConcurrentStreams_over_and_over_is_refused_with_ENHANCE_YOUR_CALM()
        => AssertGoAwayAsync(p =>
        {
            for (int id = 1; id < 1000; id += 2)
                p.Headers(id, Handlers.Connect("hold"));
        }, Http2ErrorCode.EnhanceYourCalm, o => o with { MaxConcurrentStreams = 10 });

    [Fact]
    public async Task Resets_of_streams_that_were_used_are_not_rapid_resets()
    {
        // A client whose tunnels die (its TCP peer reset) cancels streams it has been using for a while: that is
        // not the attack and must not cost it the connection.
        await using var server = new LoopbackServer(configure: o => o with { MaxResetsPerWindow = 5 });
        await using var client = await server.ConnectClientAsync();
        var streams = new List<Http2Stream>();
        for (int i = 0; i < 20; i++)
        {
            var s = client.Connection.TryOpenStream(Handlers.Connect("echo"))!;
            await s.ResponseHeaders.WaitAsync(T);
            streams.Add(s);
        }
        await Task.Delay(1100);
        foreach (var s in streams)
            s.Reset();
        await Task.Delay(200);
        Assert.True(client.Connection.IsAvailable, "connection dropped: " + client.Connection.CloseReason);
        var again = client.Connection.TryOpenStream(Handlers.Connect("echo"))!;
        Assert.Equal("200", HeaderRules.Get(await again.ResponseHeaders.WaitAsync(T), ":status"));
    }

    // ------------------------------------------------------------------ fuzz

    [Fact]
    public async Task Fuzzed_frame_sequences_end_cleanly_or_keep_running()
    {
        const int iterations = 2000;
        await using var server = new LoopbackServer();
        int next = -1, pingAcks = 0, goAways = 0, ended = 0, partial = 0;
        var failures = new System.Collections.Concurrent.ConcurrentQueue<string>();
        var codes = new System.Collections.Concurrent.ConcurrentDictionary<string, int>();
        async Task Worker()
        {
            int seed;
            while ((seed = Interlocked.Increment(ref next)) < iterations)
            {
                try
                {
                    switch (await FuzzOnceAsync(server, seed, codes))
                    {
                        case FuzzOutcome.PingAck: Interlocked.Increment(ref pingAcks); break;
                        case FuzzOutcome.GoAway: Interlocked.Increment(ref goAways); break;
                        case FuzzOutcome.Ended: Interlocked.Increment(ref ended); break;
                        case FuzzOutcome.Partial: Interlocked.Increment(ref partial); break;
                    }
                }
                catch (Exception e)
                {
                    failures.Enqueue($"seed {seed}: {e.Message}");
                }
            }
        }
        var sw = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => Task.Run(Worker))).WaitAsync(TimeSpan.FromSeconds(90));
        output.WriteLine($"{iterations} sequences in {sw.Elapsed.TotalSeconds:0.0} s: {pingAcks} still running, {goAways} GOAWAY, {ended} closed, {partial} ended mid-frame");
        output.WriteLine(string.Join(", ", codes.OrderByDescending(c => c.Value).Select(c => $"{c.Key}: {c.Value}")));
        Assert.True(failures.IsEmpty, string.Join("\n", failures.Take(20)));
        await server.AssertAllRunsEndCleanlyAsync();
        await server.AssertServesFreshConnectionAsync();
        Assert.True(pingAcks > 0 && goAways > 0, "the generator should produce both survivable and fatal sequences");
    }

    private enum FuzzOutcome { PingAck, GoAway, Ended, Partial }

    private static async Task<FuzzOutcome> FuzzOnceAsync(LoopbackServer server, int seed, System.Collections.Concurrent.ConcurrentDictionary<string, int> codes)
    {
        const ulong probe = 0xF0F0_0000_0000_0000;
        var rng = new Random(seed);
        await using var peer = await RawHttp2Peer.HandshakeAsync(server.EndPoint);
        var bytes = FuzzFrames.Generate(rng, peer);
        bool whole = FuzzFrames.EndsOnFrameBoundary(bytes, server.Options.MaxFrameSize);
        bool sent = await peer.Raw(bytes).Ping(probe + (ulong)seed).TryFlushAsync();
        var outcome = FuzzOutcome.Partial;
        if (whole && sent)
        {
            // Every frame was complete, so the server must have dealt with all of them and then our PING:
            // either it answers (still running) or it has ended the connection.
            var frame = await peer.ReadUntilAsync(f => f.Type == FrameType.GoAway
                || (f.Type == FrameType.Ping && f.Header.HasFlag(FrameFlags.Ack) && BinaryPrimitives.ReadUInt64BigEndian(f.Payload) == probe + (ulong)seed));
            outcome = frame is null ? FuzzOutcome.Ended : frame.Value.Type == FrameType.GoAway ? FuzzOutcome.GoAway : FuzzOutcome.PingAck;
        }
        peer.HalfClose();
        Assert.True(await peer.ReadToEndAsync(), "server did not close after our end-of-stream: " + peer.Describe());
        Assert.False(peer.SawReset, "server reset the connection instead of closing it: " + peer.Describe());
        foreach (var f in peer.Received)
            if (f.Type is FrameType.GoAway or FrameType.RstStream)
                codes.AddOrUpdate($"{f.Type} {f.ErrorCode}", 1, static (_, n) => n + 1);
        return outcome;
    }
}

/// <summary>Random, mostly well-formed frames with a share of mutations, for the fuzz test.</summary>
internal static class FuzzFrames
{
    private static readonly uint[] InterestingValues = [0, 1, 2, 100, 4096, 16_383, 16_384, 65_535, 65_536, 1 << 20, 16_777_215, 16_777_216, 0x7FFF_FFFF, 0x8000_0000, uint.MaxValue];

    public static byte[] Generate(Random rng, RawHttp2Peer peer)
    {
        var all = new MemoryStream();
        int nextStream = 1;
        var opened = new List<int>();
        int frames = rng.Next(1, 12);
        // A third of the sequences are left unmutated so the fuzz also gets deep into stream and flow-control states.
        int mutationOdds = rng.Next(3) == 0 ? 0 : rng.Next(3, 12);
        for (int i = 0; i < frames; i++)
        {
            var w = new ArrayBufferWriter<byte>();
            int kind = i == 0 && rng.Next(10) < 8 ? 0 : rng.Next(16); // mostly start by opening a stream
            if (kind == 4 && rng.Next(3) != 0)
                kind = 5; // a stray CONTINUATION ends most sequences at once: keep it rarer
            int stream = PickStream(rng, kind < 4, ref nextStream, opened);
            switch (kind)
            {
                case 0 or 1 or 2 or 3:
                {
                    HeaderField[] headers = rng.Next(4) switch
                    {
                        0 => [new(":method", "GET"), new(":scheme", "https"), new(":path", "/"), new(":authority", "a")],
                        1 => [new(":method", "CONNECT"), new(":authority", "echo:1"), new("x-" + rng.Next(100), new string('v', rng.Next(200)))],
                        2 => [new(":method", "CONNECT")],
                        _ => Handlers.Connect(rng.Next(3) == 0 ? "hold" : "echo"),
                    };
                    var block = peer.Encode(headers);
                    var flags = (rng.Next(4) != 0 ? FrameFlags.EndStream : 0) | (rng.Next(8) != 0 ? FrameFlags.EndHeaders : 0)
                              | (rng.Next(10) == 0 ? FrameFlags.Padded : 0) | (rng.Next(10) == 0 ? FrameFlags.Priority : 0);
                    var payload = new List<byte>();
                    int pad = rng.Next(20);
                    if ((flags & FrameFlags.Padded) != 0)
                        payload.Add((byte)pad);
                    if ((flags & FrameFlags.Priority) != 0)
                        payload.AddRange(RandomBytes(rng, 5));
                    int split = (flags & FrameFlags.EndHeaders) != 0 ? block.Length : rng.Next(block.Length + 1);
                    payload.AddRange(block[..split]);
                    if ((flags & FrameFlags.Padded) != 0)
                        payload.AddRange(new byte[pad]);
                    Frame(w, FrameType.Headers, flags, stream, payload.ToArray());
                    if (split < block.Length && rng.Next(3) != 0)
                        Frame(w, FrameType.Continuation, FrameFlags.EndHeaders, stream, block[split..]);
                    break;
                }
                case 4:
                    Frame(w, FrameType.Continuation, rng.Next(2) == 0 ? FrameFlags.EndHeaders : 0, stream, RandomBytes(rng, rng.Next(30)));
                    break;
                case 5 or 6 or 7:
                {
                    var flags = (rng.Next(3) == 0 ? FrameFlags.EndStream : 0) | (rng.Next(8) == 0 ? FrameFlags.Padded : 0);
                    var data = RandomBytes(rng, rng.Next(4) == 0 ? rng.Next(70_000) : rng.Next(3000));
                    if ((flags & FrameFlags.Padded) != 0)
                        data = [(byte)rng.Next(256), .. data];
                    Frame(w, FrameType.Data, flags, stream, data);
                    break;
                }
                case 8:
                    Frame(w, FrameType.WindowUpdate, 0, rng.Next(3) == 0 ? 0 : stream, U32(Pick(rng)));
                    break;
                case 9:
                    Frame(w, FrameType.RstStream, 0, stream, U32((uint)rng.Next(16)));
                    break;
                case 10:
                {
                    var entries = new List<byte>();
                    for (int e = rng.Next(4); e > 0; e--)
                    {
                        entries.Add(0);
                        entries.Add((byte)rng.Next(9));
                        entries.AddRange(U32(Pick(rng)));
                    }
                    Frame(w, FrameType.Settings, rng.Next(10) == 0 ? FrameFlags.Ack : 0, 0, entries.ToArray());
                    break;
                }
                case 11:
                    Frame(w, FrameType.Ping, rng.Next(4) == 0 ? FrameFlags.Ack : 0, 0, RandomBytes(rng, 8));
                    break;
                case 12:
                    Frame(w, FrameType.Priority, 0, stream, RandomBytes(rng, 5));
                    break;
                case 13:
                    Frame(w, FrameType.GoAway, 0, 0, [.. U32((uint)rng.Next(10)), .. U32((uint)rng.Next(14))]);
                    break;
                case 14:
                    Frame(w, (FrameType)rng.Next(10, 256), (FrameFlags)rng.Next(256), rng.Next(4) == 0 ? 0 : stream, RandomBytes(rng, rng.Next(40)));
                    break;
                default:
                    Frame(w, (FrameType)rng.Next(256), (FrameFlags)rng.Next(256), rng.Next(4) == 0 ? 0 : stream, RandomBytes(rng, rng.Next(40)));
                    break;
            }
            var frame = w.WrittenSpan.ToArray();
            if (mutationOdds > 0 && rng.Next(mutationOdds) == 0)
            {
                // Flip a few bytes; the 3-byte length field only rarely (it mostly just desynchronises the stream).
                int from = rng.Next(20) == 0 ? 0 : 3;
                for (int m = rng.Next(1, 4); m > 0 && frame.Length > from; m--)
                    frame[rng.Next(from, frame.Length)] ^= (byte)rng.Next(1, 256);
            }
            all.Write(frame);
        }
        return all.ToArray();
    }

    /// <summary>True when the server will see only whole frames (or one it must reject for its length at once).</summary>
    public static bool EndsOnFrameBoundary(byte[] bytes, int maxFrameSize)
    {
        int pos = 0;
        while (pos + FrameHeader.Size <= bytes.Length)
        {
            int length = (bytes[pos] << 16) | (bytes[pos + 1] << 8) | bytes[pos + 2];
            if (length > maxFrameSize)
                return true;
            pos += FrameHeader.Size + length;
        }
        return pos == bytes.Length;
    }

    /// <summary>HEADERS mostly open the next stream; other frames mostly go to a stream already opened.</summary>
    private static int PickStream(Random rng, bool headers, ref int next, List<int> opened)
    {
        int roll = rng.Next(20);
        if (roll == 0)
            return rng.Next(int.MaxValue);
        if (roll == 1)
            return rng.Next(1, 50);
        if (headers && (roll < 17 || opened.Count == 0))
        {
            opened.Add(next);
            next += 2;
            return opened[^1];
        }
        return opened.Count > 0 ? opened[rng.Next(opened.Count)] : next;
    }

    private static uint Pick(Random rng) => rng.Next(3) == 0 ? (uint)rng.NextInt64(0, 1L << 32) : InterestingValues[rng.Next(InterestingValues.Length)];

    private static byte[] RandomBytes(Random rng, int n)
    {
        var b = new byte[n];
        rng.NextBytes(b);
        return b;
    }

    private static byte[] U32(uint v)
    {
        var b = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(b, v);
        return b;
    }

    private static void Frame(ArrayBufferWriter<byte> w, FrameType type, FrameFlags flags, int stream, ReadOnlySpan<byte> payload)
    {
        FrameWriter.WriteHeader(w, payload.Length, type, flags, stream);
        w.Write(payload);
    }
}

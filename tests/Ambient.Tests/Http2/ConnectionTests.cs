using System.Diagnostics;
using Ambient.Http2;
using Ambient.Http2.Frames;

namespace Ambient.Tests.Http2;

/// <summary>Our engine on both ends of a loopback TCP connection.</summary>
public class ConnectionTests
{
    private static readonly TimeSpan T = RawHttp2Peer.Timeout;

    private static async Task<Http2Stream> OpenAsync(LoopbackServer.Client client, string host = "echo")
    {
        var stream = client.Connection.TryOpenStream(Handlers.Connect(host));
        Assert.NotNull(stream);
        var response = await stream.ResponseHeaders.WaitAsync(T);
        Assert.Equal("200", HeaderRules.Get(response, ":status"));
        return stream;
    }

    private static async Task<byte[]> EchoAsync(Http2Stream stream, byte[] payload)
    {
        var echoed = Streams.ReadAllAsync(stream.Input);
        await stream.WriteAsync(payload).AsTask().WaitAsync(T);
        stream.CompleteOutput();
        return await echoed.WaitAsync(T);
    }

    private static async Task EventuallyAsync(Func<bool> condition, string what)
    {
        var sw = Stopwatch.StartNew();
        while (!condition())
        {
            Assert.True(sw.Elapsed < T, "timed out waiting for " + what);
            await Task.Delay(10);
        }
    }

    [Fact]
    public async Task Transfer_of_64_MB_through_one_stream_keeps_checksums_and_bounded_buffers()
    {
        await using var server = new LoopbackServer();
        await using var client = await server.ConnectClientAsync();
        var serverSide = (await server.NextAsync()).Connection;
        var stream = await OpenAsync(client);

        long peakServerIn = 0, peakClientIn = 0, peakServerOut = 0, peakClientOut = 0;
        using var stop = new CancellationTokenSource();
        var sampler = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                peakServerIn = Math.Max(peakServerIn, serverSide.BufferedInput);
                peakClientIn = Math.Max(peakClientIn, client.Connection.BufferedInput);
                peakServerOut = Math.Max(peakServerOut, serverSide.BufferedOutput);
                peakClientOut = Math.Max(peakClientOut, client.Connection.BufferedOutput);
                await Task.Delay(2);
            }
        });

        const long total = 64L << 20;
        var send = Task.Run(() => Streams.WriteHashAsync(stream, total, seed: 64));
        var receive = Task.Run(() => Streams.ReadHashAsync(stream.Input));
        await Task.WhenAll(send, receive).WaitAsync(TimeSpan.FromSeconds(30));
        stop.Cancel();
        await sampler;

        var (length, receivedHash) = await receive;
        Assert.Equal(total, length);
        Assert.Equal(await send, receivedHash);
        // What each side holds for the application never exceeds the window it granted, and encoded output never
        // exceeds the output budget (plus a little for control frames).
        var options = server.Options;
        Assert.InRange(peakServerIn, 0, options.StreamWindow);
        Assert.InRange(peakClientIn, 0, options.StreamWindow);
        Assert.InRange(peakServerOut, 0, options.MaxBufferedOutput + 4096);
        Assert.InRange(peakClientOut, 0, options.MaxBufferedOutput + 4096);
        await EventuallyAsync(() => client.Connection.ActiveLocalStreams == 0, "the stream to close");
    }

    [Fact]
    public async Task Half_close_lets_the_server_keep_sending_until_its_own_end()
    {
        var tail = Streams.Pattern(1 << 20, seed: 3);
        var serverGot = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var server = new LoopbackServer(async s =>
        {
            await s.SendHeadersAsync(Handlers.Ok);
            var request = await Streams.ReadAllAsync(s.Input); // to the client's END_STREAM
            serverGot.TrySetResult(request.Length);
            await Task.Delay(50); // well after the client's half-close
            await s.WriteAsync(tail);
            s.CompleteOutput();
        });
        await using var client = await server.ConnectClientAsync();
        var stream = await OpenAsync(client);

        await stream.WriteAsync(new byte[100_000]).AsTask().WaitAsync(T);
        stream.CompleteOutput();
        Assert.Equal(100_000, await serverGot.Task.WaitAsync(T));
        await Assert.ThrowsAsync<InvalidOperationException>(() => stream.WriteAsync(new byte[1]).AsTask());

        var received = await Streams.ReadAllAsync(stream.Input).WaitAsync(T); // ends only at the server's END_STREAM
        Assert.Equal(tail, received);
        await EventuallyAsync(() => client.Connection.ActiveLocalStreams == 0, "the stream to close");
    }

    [Fact]
    public async Task Two_hundred_concurrent_streams_share_one_connection()
    {
        await using var server = new LoopbackServer(configure: o => o with { MaxConcurrentStreams = 200 });
        await using var client = await server.ConnectClientAsync(o => o with { MaxLocalStreams = 200 });
        var streams = new List<Http2Stream>();
        for (int i = 0; i < 200; i++)
        {
            var s = client.Connection.TryOpenStream(Handlers.Connect("echo"));
            Assert.True(s is not null, $"stream {i} not opened");
            streams.Add(s);
        }
        Assert.Null(client.Connection.TryOpenStream(Handlers.Connect("echo")));
        Assert.Equal(200, client.Connection.ActiveLocalStreams);

        var work = streams.Select(async (s, i) =>
        {
            Assert.Equal("200", HeaderRules.Get(await s.ResponseHeaders, ":status"));
            var payload = Streams.Pattern(8 * 1024 + i, seed: i);
            Assert.Equal(payload, await EchoAsync(s, payload));
        });
        await Task.WhenAll(work).WaitAsync(TimeSpan.FromSeconds(20));
        await EventuallyAsync(() => client.Connection.ActiveLocalStreams == 0, "all streams to close");
        var again = await OpenAsync(client);
        Assert.Equal(new byte[] { 1, 2, 3 }, await EchoAsync(again, [1, 2, 3]));
    }

    [Fact]
    public async Task TryOpenStream_returns_null_beyond_MaxLocalStreams_and_the_peers_limit()
    {
        await using var server = new LoopbackServer(configure: o => o with { MaxConcurrentStreams = 4 });
        await using (var client = await server.ConnectClientAsync(o => o with { MaxLocalStreams = 3 }))
        {
            for (int i = 0; i < 3; i++)
                Assert.NotNull(client.Connection.TryOpenStream(Handlers.Connect("hold")));
            Assert.Null(client.Connection.TryOpenStream(Handlers.Connect("hold")));
        }
        await using (var client = await server.ConnectClientAsync(o => o with { MaxLocalStreams = 100 }))
        {
            for (int i = 0; i < 4; i++)
                Assert.NotNull(client.Connection.TryOpenStream(Handlers.Connect("hold")));
            Assert.Null(client.Connection.TryOpenStream(Handlers.Connect("hold"))); // server advertised 4
            Assert.False(client.Connection.IsAvailable);
        }
    }

    [Fact]
    public async Task Client_reset_faults_the_server_input_and_spares_siblings()
    {
        var serverSaw = new TaskCompletionSource<Exception?>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var server = new LoopbackServer(async s =>
        {
            if (HeaderRules.Get(s.RequestHeaders, ":authority") != "victim:443")
            {
                await Handlers.Echo(s);
                return;
            }
            await s.SendHeadersAsync(Handlers.Ok);
            try
            {
                await Streams.ReadAllAsync(s.Input);
                serverSaw.TrySetResult(null);
            }
            catch (Exception e)
            {
                serverSaw.TrySetResult(e);
            }
        });
        await using var client = await server.ConnectClientAsync();
        var victim = await OpenAsync(client, "victim");
        var sibling = await OpenAsync(client);
        await victim.WriteAsync(new byte[10_000]).AsTask().WaitAsync(T);

        victim.Reset(Http2ErrorCode.Cancel);

        var seen = await serverSaw.Task.WaitAsync(T);
        var reset = Assert.IsType<Http2StreamResetException>(seen);
        Assert.Equal(Http2ErrorCode.Cancel, reset.Code);
        await Assert.ThrowsAsync<Http2StreamResetException>(() => victim.WriteAsync(new byte[1]).AsTask());
        await Assert.ThrowsAsync<Http2StreamResetException>(async () => await victim.Input.ReadAsync());
        var payload = Streams.Pattern(1 << 20, seed: 5);
        Assert.Equal(payload, await EchoAsync(sibling, payload));
    }

    [Fact]
    public async Task Server_reset_faults_the_client_input_and_spares_siblings()
    {
        await using var server = new LoopbackServer(async s =>
        {
            if (HeaderRules.Get(s.RequestHeaders, ":authority") != "victim:443")
            {
                await Handlers.Echo(s);
                return;
            }
            await s.SendHeadersAsync(Handlers.Ok);
            await s.WriteAsync(new byte[1000]);
            var first = await s.Input.ReadAsync(); // the client's first bytes
            s.Input.AdvanceTo(first.Buffer.End);
            s.Reset(Http2ErrorCode.ConnectError);
        });
        await using var client = await server.ConnectClientAsync();
        var victim = await OpenAsync(client, "victim");
        var sibling = await OpenAsync(client);
        await victim.WriteAsync(new byte[10]).AsTask().WaitAsync(T);

        var e = await Assert.ThrowsAsync<Http2StreamResetException>(() => Streams.ReadAllAsync(victim.Input).WaitAsync(T));
        Assert.Equal(Http2ErrorCode.ConnectError, e.Code);
        Assert.True(victim.IsReset);
        await Assert.ThrowsAsync<Http2StreamResetException>(() => victim.WriteAsync(new byte[1]).AsTask());
        var payload = Streams.Pattern(1 << 20, seed: 6);
        Assert.Equal(payload, await EchoAsync(sibling, payload));
    }

    [Fact]
    public async Task Resetting_streams_with_unread_input_does_not_shrink_the_connection_window()
    {
        // Small windows: each reset stream has a full stream window of unread DATA buffered when it is reset. If
        // that were not credited back, two resets would exhaust the connection window on both sides.
        Func<Http2ConnectionOptions, Http2ConnectionOptions> small = o => o with { StreamWindow = 128 * 1024, ConnectionWindow = 256 * 1024 };
        await using var server = new LoopbackServer(configure: small);
        await using var client = await server.ConnectClientAsync(small);
        var serverSide = (await server.NextAsync()).Connection;
        for (int i = 0; i < 6; i++)
        {
            // Client side holds: the server floods a stream the client never reads.
            var flood = await OpenAsync(client, "firehose");
            await EventuallyAsync(() => client.Connection.BufferedInput >= 128 * 1024, "the client stream window to fill");
            flood.Reset();
            // Server side holds: the client sends to a handler that never consumes.
            var hold = await OpenAsync(client, "hold");
            var filling = hold.WriteAsync(new byte[128 * 1024]).AsTask();
            await EventuallyAsync(() => serverSide.BufferedInput >= 128 * 1024, "the server stream window to fill");
            await filling.WaitAsync(T);
            hold.Reset();
        }
        await EventuallyAsync(() => serverSide.BufferedInput == 0 && client.Connection.BufferedInput == 0, "buffers to be released");
        var payload = Streams.Pattern(1 << 20, seed: 8);
        Assert.Equal(payload, await EchoAsync(await OpenAsync(client), payload));
    }

    [Fact]
    public async Task A_handler_that_returns_without_reading_releases_its_input()
    {
        Func<Http2ConnectionOptions, Http2ConnectionOptions> small = o => o with { StreamWindow = 128 * 1024, ConnectionWindow = 256 * 1024 };
        var returned = new SemaphoreSlim(0);
        await using var server = new LoopbackServer(async s =>
        {
            if (HeaderRules.Get(s.RequestHeaders, ":authority") != "lazy:443")
            {
                await Handlers.Echo(s);
                return;
            }
            await s.SendHeadersAsync(Handlers.Ok);
            var r = await s.Input.ReadAsync(); // wait for some data, leave it all unread
            s.Input.AdvanceTo(r.Buffer.Start, r.Buffer.End);
            await Task.Delay(100);
            returned.Release();
        }, small);
        await using var client = await server.ConnectClientAsync(small);
        for (int i = 0; i < 5; i++)
        {
            var lazy = await OpenAsync(client, "lazy");
            var writing = lazy.WriteAsync(new byte[200 * 1024]).AsTask(); // more than the stream window
            Assert.True(await returned.WaitAsync(T));
            await writing.WaitAsync(T); // abandoned input is credited, so the writer is not stuck
            lazy.CompleteOutput();
            await Streams.ReadAllAsync(lazy.Input).WaitAsync(T); // the server's END_STREAM
        }
        var payload = Streams.Pattern(1 << 20, seed: 9);
        Assert.Equal(payload, await EchoAsync(await OpenAsync(client), payload));
    }

    [Fact]
    public async Task Server_MaxConcurrentStreams_is_enforced_with_REFUSED_STREAM()
    {
        await using var server = new LoopbackServer(configure: o => o with { MaxConcurrentStreams = 2 });
        await using var peer = await RawHttp2Peer.HandshakeAsync(server.EndPoint);
        await peer.Headers(1, Handlers.Connect("hold")).Headers(3, Handlers.Connect("hold")).Headers(5, Handlers.Connect("hold")).FlushAsync();
        Assert.Equal(Http2ErrorCode.RefusedStream, await peer.ExpectRstAsync(5));
        bool Answered(int id) => peer.Received.Exists(f => f.Type == FrameType.Headers && f.StreamId == id);
        while (!(Answered(1) && Answered(3)))
            Assert.NotNull(await peer.ReadFrameAsync());
        // Once a slot frees up, the next stream is accepted.
        await peer.RstStream(1, Http2ErrorCode.Cancel).Headers(7, Handlers.Connect("hold")).FlushAsync();
        var answer = await peer.ReadUntilAsync(f => (f.Type == FrameType.Headers && f.StreamId == 7) || f.Type == FrameType.RstStream && f.StreamId == 7);
        Assert.Equal(FrameType.Headers, answer?.Type);
    }

    [Fact]
    public async Task Drain_sends_GOAWAY_lets_open_streams_finish_and_completes_both_sides()
    {
        await using var server = new LoopbackServer();
        var client = await server.ConnectClientAsync();
        var serverSide = await server.NextAsync();
        var open = await OpenAsync(client);
        var payload = Streams.Pattern(4 << 20, seed: 10);
        var echoed = Streams.ReadAllAsync(open.Input);
        await open.WriteAsync(payload.AsMemory(0, 1 << 20)).AsTask().WaitAsync(T);

        serverSide.Connection.Drain();

        await EventuallyAsync(() => !client.Connection.IsAvailable, "the client to see GOAWAY");
        Assert.Null(client.Connection.TryOpenStream(Handlers.Connect("echo")));
        Assert.False(serverSide.Run.IsCompleted);
        await open.WriteAsync(payload.AsMemory(1 << 20)).AsTask().WaitAsync(T); // the open stream carries on
        open.CompleteOutput();
        Assert.Equal(payload, await echoed.WaitAsync(T));
        await serverSide.Run.WaitAsync(T);
        await client.Run.WaitAsync(T);
        Assert.Equal("drained", serverSide.Connection.CloseReason);
        Assert.Equal("GOAWAY received", client.Connection.CloseReason);
    }

    [Fact]
    public async Task Drain_of_an_idle_connection_completes_at_once()
    {
        await using var server = new LoopbackServer();
        var client = await server.ConnectClientAsync();
        var serverSide = await server.NextAsync();
        client.Connection.Drain(); // the client side (pool retiring an idle connection)
        await client.Run.WaitAsync(T);
        await serverSide.Run.WaitAsync(T);
        Assert.Equal("drained", client.Connection.CloseReason);
    }

    [Fact]
    public async Task A_peer_that_never_answers_PING_is_dropped_after_PingTimeout()
    {
        // PingTimeout well below PingInterval: the drop must come PingTimeout after the unanswered PING, not at
        // the next interval tick.
        var timeout = TimeSpan.FromMilliseconds(300);
        await using var server = new LoopbackServer(configure: o => o with { PingInterval = TimeSpan.FromSeconds(1.5), PingTimeout = timeout });
        await using var peer = await RawHttp2Peer.HandshakeAsync(server.EndPoint);
        peer.AutoAnswerPing = false;
        var serverSide = await server.NextAsync();
        Assert.NotNull(await peer.ReadUntilAsync(f => f.Type == FrameType.Ping));
        var sw = Stopwatch.StartNew();
        Assert.True(await peer.ReadToEndAsync(TimeSpan.FromSeconds(5)), "the server kept the silent peer: " + peer.Describe());
        await serverSide.Run.WaitAsync(T);
        Assert.InRange(sw.Elapsed, timeout - TimeSpan.FromMilliseconds(20), timeout + TimeSpan.FromMilliseconds(800));
        Assert.Contains("PING", serverSide.Connection.CloseReason);
    }

    [Fact]
    public async Task Peers_that_answer_PING_stay_connected()
    {
        Func<Http2ConnectionOptions, Http2ConnectionOptions> fast = o => o with { PingInterval = TimeSpan.FromMilliseconds(50), PingTimeout = TimeSpan.FromMilliseconds(300) };
        await using var server = new LoopbackServer(configure: fast);
        await using var client = await server.ConnectClientAsync(fast);
        await Task.Delay(1200);
        Assert.True(client.Connection.IsAvailable);
        Assert.Equal(new byte[] { 4, 5 }, await EchoAsync(await OpenAsync(client), [4, 5]));
    }

    [Fact]
    public async Task A_stalled_reader_does_not_stall_a_sibling_stream()
    {
        await using var server = new LoopbackServer();
        await using var client = await server.ConnectClientAsync();
        var stalled = await OpenAsync(client);
        // Push far more than the windows into a stream whose echo the client never reads: it stalls once the
        // stream windows fill (client receive side, then the server handler's input).
        var stuckWrite = stalled.WriteAsync(new byte[32 << 20]).AsTask();
        await EventuallyAsync(() => client.Connection.BufferedInput >= server.Options.StreamWindow, "the stalled stream window to fill");
        Assert.False(stuckWrite.IsCompleted);

        var sibling = await OpenAsync(client);
        var send = Task.Run(() => Streams.WriteHashAsync(sibling, 16L << 20, seed: 11));
        var receive = Task.Run(() => Streams.ReadHashAsync(sibling.Input));
        await Task.WhenAll(send, receive).WaitAsync(TimeSpan.FromSeconds(15));
        Assert.Equal(await send, (await receive).Sha256);

        stalled.Reset();
        await Assert.ThrowsAsync<Http2StreamResetException>(() => stuckWrite.WaitAsync(T));
    }
}

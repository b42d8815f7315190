using System.Net;
using Ambient.Config.Routes;
using Ambient.Waypoint.Resilience;

namespace Ambient.Tests.Waypoint;

/// <summary>
/// <see cref="ConnectionLimiter"/> on its own: HTTP/1.1 connection slots with a bounded FIFO pending queue, the hard
/// cap on open connections, and which connections it may close to make room (only idle ones).
/// </summary>
public class ConnectionLimiterTests
{
    private static readonly IPEndPoint PodA = new(IPAddress.Parse("10.0.0.1"), 8080);
    private static readonly IPEndPoint PodB = new(IPAddress.Parse("10.0.0.2"), 8080);
    private static readonly TimeSpan Soon = TimeSpan.FromSeconds(10);

    private sealed class FakeTransport : IUpstreamTransport
    {
        public bool Aborted { get; private set; }
        public void Abort() => Aborted = true;
    }

    private static async Task<(UpstreamConnection Connection, FakeTransport Transport)> OpenAsync(ConnectionLimiter limiter, IPEndPoint pod, bool http2 = false)
    {
        var connection = await limiter.OpenAsync(pod, http2, CancellationToken.None).AsTask().WaitAsync(Soon);
        var transport = new FakeTransport();
        connection.Attach(transport);
        return (connection, transport);
    }

    /// <summary>Still waiting after a while (long enough for several of the limiter's idle polls).</summary>
    private static async Task AssertStillWaitingAsync(Task task)
    {
        await Task.Delay(ConnectionLimiter.IdlePollInterval * 3);
        Assert.False(task.IsCompleted, "went ahead although nothing was free");
    }

    [Fact]
    public async Task Slots_beyond_the_limit_wait_in_order_and_beyond_the_pending_limit_overflow_at_once()
    {
        var limiter = new ConnectionLimiter(maxConnections: 2, maxPendingRequests: 2);
        Assert.True(await limiter.TryAcquireSlotAsync());
        Assert.True(await limiter.TryAcquireSlotAsync());
        var third = limiter.TryAcquireSlotAsync().AsTask();
        var fourth = limiter.TryAcquireSlotAsync().AsTask();
        var fifth = limiter.TryAcquireSlotAsync();
        Assert.True(fifth.IsCompleted); // at once
        Assert.False(await fifth); // overflow: two are pending already
        Assert.False(third.IsCompleted);
        Assert.Equal(2, limiter.PendingRequests);

        limiter.ReleaseSlot();
        Assert.True(await third.WaitAsync(Soon));
        Assert.False(fourth.IsCompleted);
        limiter.ReleaseSlot();
        Assert.True(await fourth.WaitAsync(Soon));
        Assert.Equal((2, 0), (limiter.RequestsOnConnections, limiter.PendingRequests));
    }

    [Fact]
    public async Task A_canceled_pending_request_leaves_the_queue()
    {
        var limiter = new ConnectionLimiter(maxConnections: 1, maxPendingRequests: 1);
        Assert.True(await limiter.TryAcquireSlotAsync());
        using var cancel = new CancellationTokenSource();
        var waiting = limiter.TryAcquireSlotAsync(cancel.Token).AsTask();
        cancel.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting.WaitAsync(Soon));
        Assert.Equal(0, limiter.PendingRequests);
        var next = limiter.TryAcquireSlotAsync().AsTask(); // room in the queue again: waits, not overflow
        Assert.False(next.IsCompleted);
        limiter.ReleaseSlot();
        Assert.True(await next.WaitAsync(Soon));
        Assert.Equal(1, limiter.RequestsOnConnections);
    }

    [Fact]
    public async Task A_raised_limit_admits_the_waiters_and_a_lowered_one_refuses_new_entries()
    {
        var limiter = new ConnectionLimiter(maxConnections: 1, maxPendingRequests: 10);
        Assert.True(await limiter.TryAcquireSlotAsync());
        var waiting = Enumerable.Range(0, 3).Select(_ => limiter.TryAcquireSlotAsync().AsTask()).ToArray();
        limiter.UpdateLimits(maxConnections: 4, maxPendingRequests: 10);
        Assert.All(await Task.WhenAll(waiting).WaitAsync(Soon), Assert.True);

        limiter.UpdateLimits(maxConnections: 2, maxPendingRequests: 0);
        Assert.False(await limiter.TryAcquireSlotAsync()); // 4 in use, limit 2, no queue
        for (int i = 0; i < 3; i++) limiter.ReleaseSlot();
        Assert.True(await limiter.TryAcquireSlotAsync()); // 1 in use now
    }

    [Fact]
    public async Task Without_a_limit_nothing_waits()
    {
        var limiter = new ConnectionLimiter();
        for (int i = 0; i < 1000; i++) Assert.True(limiter.TryAcquireSlotAsync().IsCompletedSuccessfully);
        Assert.Equal(1000, limiter.RequestsOnConnections);
        for (int i = 0; i < 1000; i++) limiter.ReleaseSlot();
        Assert.Equal(0, limiter.RequestsOnConnections);
        for (int i = 0; i < 100; i++) await OpenAsync(limiter, i % 2 == 0 ? PodA : PodB);
        Assert.Equal(100, limiter.OpenConnections);
    }

    [Fact]
    public async Task At_the_limit_a_connect_waits_while_the_connection_is_busy_and_takes_its_place_once_it_is_idle()
    {
        var limiter = new ConnectionLimiter(maxConnections: 1);
        var (busy, busyTransport) = await OpenAsync(limiter, PodA);
        var attempt = limiter.BeginAttempt(PodA, http2: false);
        busy.OnWrite(); // the attempt's request is written on it: busy

        var connect = limiter.OpenAsync(PodB, http2: false, CancellationToken.None).AsTask();
        await AssertStillWaitingAsync(connect);
        Assert.False(busyTransport.Aborted);

        attempt.Dispose(); // the response is done: the connection is idle and may go
        await connect.WaitAsync(Soon);
        Assert.True(busyTransport.Aborted);
        Assert.Equal(1, limiter.OpenConnections);
    }

    [Fact]
    public async Task A_new_connection_is_kept_while_a_request_to_its_pod_has_not_written_yet()
    {
        var limiter = new ConnectionLimiter(maxConnections: 1);
        var attempt = limiter.BeginAttempt(PodA, http2: false); // waiting for the connection being opened
        var (fresh, freshTransport) = await OpenAsync(limiter, PodA);

        var connect = limiter.OpenAsync(PodB, http2: false, CancellationToken.None).AsTask();
        await AssertStillWaitingAsync(connect);
        Assert.False(freshTransport.Aborted);

        attempt.Dispose(); // that request went elsewhere (or ended): the unused connection is idle
        await connect.WaitAsync(Soon);
        Assert.True(freshTransport.Aborted);
        GC.KeepAlive(fresh);
    }

    [Fact]
    public async Task An_http2_connection_is_idle_only_when_no_http2_request_goes_to_its_pod()
    {
        var limiter = new ConnectionLimiter(maxConnections: 1);
        var attempt = limiter.BeginAttempt(PodA, http2: true);
        var (_, transport) = await OpenAsync(limiter, PodA, http2: true);

        var connect = limiter.OpenAsync(PodB, http2: true, CancellationToken.None).AsTask();
        await AssertStillWaitingAsync(connect);

        attempt.Dispose();
        await connect.WaitAsync(Soon);
        Assert.True(transport.Aborted);
    }

    [Fact]
    public async Task A_closed_connection_gives_its_permit_back_once()
    {
        var limiter = new ConnectionLimiter(maxConnections: 1);
        var (first, _) = await OpenAsync(limiter, PodA);
        var attempt = limiter.BeginAttempt(PodA, http2: false);
        first.OnWrite();
        var connect = limiter.OpenAsync(PodA, http2: false, CancellationToken.None).AsTask();
        await AssertStillWaitingAsync(connect);

        first.Close();
        first.Close(); // the HTTP client may dispose twice; the count must not go below what is open
        var second = await connect.WaitAsync(Soon);
        Assert.Equal(1, limiter.OpenConnections);
        attempt.Dispose();
        second.Close();
        Assert.Equal(0, limiter.OpenConnections);
    }

    [Fact]
    public async Task A_canceled_connect_does_not_take_a_permit()
    {
        var limiter = new ConnectionLimiter(maxConnections: 1);
        var (first, _) = await OpenAsync(limiter, PodA);
        using var attempt = limiter.BeginAttempt(PodA, http2: false);
        first.OnWrite();
        using var cancel = new CancellationTokenSource(ConnectionLimiter.IdlePollInterval * 2);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => limiter.OpenAsync(PodB, http2: false, cancel.Token).AsTask().WaitAsync(Soon));
        Assert.Equal(1, limiter.OpenConnections);
    }

    [Fact]
    public async Task A_lowered_limit_closes_idle_connections_above_it_and_keeps_busy_ones()
    {
        var limiter = new ConnectionLimiter(maxConnections: 4);
        var transports = new List<FakeTransport>();
        for (int i = 0; i < 3; i++) transports.Add((await OpenAsync(limiter, i == 0 ? PodA : PodB)).Transport);
        var (busy, busyTransport) = await OpenAsync(limiter, PodA);
        var attempt = limiter.BeginAttempt(PodA, http2: false);
        busy.OnWrite();

        limiter.UpdateLimits(maxConnections: 1, maxPendingRequests: int.MaxValue);
        Assert.All(transports, t => Assert.True(t.Aborted));
        Assert.False(busyTransport.Aborted);
        Assert.Equal(1, limiter.OpenConnections);
        attempt.Dispose();
        Assert.False(busyTransport.Aborted); // at the limit, not above it: idle connections stay for reuse
    }

    [Fact]
    public async Task Pods_unused_for_a_while_are_forgotten_at_a_config_change_and_counted_afresh_when_they_return()
    {
        var limiter = new ConnectionLimiter(maxConnections: 1, forgetEndpointsAfter: TimeSpan.Zero);
        limiter.BeginAttempt(PodA, http2: false).Dispose();
        limiter.UpdateLimits(maxConnections: 1, maxPendingRequests: int.MaxValue);
        Assert.Equal(0, limiter.KnownEndpoints);

        var attempt = limiter.BeginAttempt(PodA, http2: false); // pod A is back, about to write on a new connection
        var (_, transport) = await OpenAsync(limiter, PodA);
        limiter.UpdateLimits(maxConnections: 1, maxPendingRequests: int.MaxValue);
        Assert.Equal(1, limiter.KnownEndpoints); // a connection and a request keep it
        var connect = limiter.OpenAsync(PodB, http2: false, CancellationToken.None).AsTask();
        await AssertStillWaitingAsync(connect); // that request still protects its connection
        attempt.Dispose();
        await connect.WaitAsync(Soon);
        Assert.True(transport.Aborted);
    }

    [Fact]
    public void The_registry_applies_DestinationRule_limits_and_their_changes()
    {
        var registry = new CircuitBreakerRegistry();
        DestinationRule Rule(int maxConnections, int pending) => new()
        {
            Name = "reviews", Namespace = "default", Host = "reviews",
            ConnectionPool = new ConnectionPoolSettings { MaxConnections = maxConnections, MaxPendingRequests = pending },
        };
        registry.Update([Rule(3, 7)]);
        var limiter = registry.For("reviews.default.svc.cluster.local").Connections;
        Assert.Equal((3, 7), (limiter.MaxConnections, limiter.MaxPendingRequests));
        registry.Update([Rule(5, 1)]);
        Assert.Same(limiter, registry.For("reviews.default.svc.cluster.local").Connections); // counts survive a reload
        Assert.Equal((5, 1), (limiter.MaxConnections, limiter.MaxPendingRequests));
        registry.Update([]);
        Assert.Equal((int.MaxValue, int.MaxValue), (limiter.MaxConnections, limiter.MaxPendingRequests));
        Assert.Equal(int.MaxValue, registry.For("ratings.default.svc.cluster.local").Connections.MaxConnections);
    }
}

/// <summary>
/// <see cref="ConnectionLimiter"/> under a real <see cref="SocketsHttpHandler"/> (the waypoint's HTTP client) over
/// plain TCP to two applications: an HTTP/1.1 request binds to the connection it is written on, so at the limit the
/// idle connection to one pod is closed for another pod while the busy one beside it is left alone.
/// </summary>
public sealed class ConnectionLimiterHttpTests : IAsyncLifetime
{
    private readonly IPEndPoint _addressA = new(Support.TestAddresses.Next(), 8080);
    private readonly IPEndPoint _addressB = new(Support.TestAddresses.Next(), 8080);
    private MeshHttpApp _podA = null!;
    private MeshHttpApp _podB = null!;

    public async Task InitializeAsync()
    {
        _podA = await MeshHttpApp.StartAsync(_addressA.Address, "a");
        _podB = await MeshHttpApp.StartAsync(_addressB.Address, "b");
    }

    public async Task DisposeAsync()
    {
        await _podA.DisposeAsync();
        await _podB.DisposeAsync();
    }

    /// <summary>A TCP connection counted by the limiter, reporting writes as HboneStream does for a tunnel.</summary>
    private sealed class CountedStream(System.Net.Sockets.Socket socket, UpstreamConnection counted) : Stream, IUpstreamTransport
    {
        private readonly System.Net.Sockets.NetworkStream _inner = new(socket, ownsSocket: true);

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            counted.OnWrite();
            return _inner.WriteAsync(buffer, cancellationToken);
        }

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => _inner.ReadAsync(buffer, cancellationToken);
        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) => _inner.ReadAsync(buffer, offset, count, cancellationToken);
        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) => WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();
        public override int Read(byte[] buffer, int offset, int count) => _inner.Read(buffer, offset, count);
        public override void Write(byte[] buffer, int offset, int count) => WriteAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();
        public void Abort() => socket.Close();
        public override void Flush() { }
        public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;
        public override bool CanRead => true;
        public override bool CanWrite => true;
        public override bool CanSeek => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                _inner.Dispose();
                counted.Close();
            }
            base.Dispose(disposing);
        }
    }

    [Fact]
    public async Task At_the_limit_the_idle_connection_beside_a_busy_one_is_closed_for_another_pod()
    {
        var limiter = new ConnectionLimiter(maxConnections: 2);
        using var client = new HttpMessageInvoker(new SocketsHttpHandler
        {
            ConnectCallback = async (context, ct) =>
            {
                var pod = new IPEndPoint(IPAddress.Parse(context.DnsEndPoint.Host), context.DnsEndPoint.Port);
                var counted = await limiter.OpenAsync(pod, http2: false, ct);
                var socket = new System.Net.Sockets.Socket(System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);
                await socket.ConnectAsync(pod, ct);
                var stream = new CountedStream(socket, counted);
                counted.Attach(stream);
                return stream;
            },
        });
        var (podA, podB) = (_addressA, _addressB);

        // As the pipeline does it: the attempt is begun in the flow that sends the request.
        async Task<HttpStatusCode> SendAsync(IPEndPoint pod, string path)
        {
            using var attempt = limiter.BeginAttempt(pod, http2: false);
            using var response = await client.SendAsync(new HttpRequestMessage(HttpMethod.Get, $"http://{pod}{path}"), CancellationToken.None);
            await response.Content.ReadAsByteArrayAsync();
            return response.StatusCode;
        }

        Assert.All(await Task.WhenAll(SendAsync(podA, "/hold"), SendAsync(podA, "/hold")), s => Assert.Equal(HttpStatusCode.OK, s));
        Assert.Equal(2, limiter.OpenConnections); // both to pod A, both idle now

        var slow = SendAsync(podA, "/sleep?ms=5000"); // busy on one of them
        for (int i = 0; i < 500 && _podA.Concurrent == 0; i++) await Task.Delay(10);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        Assert.Equal(HttpStatusCode.OK, await SendAsync(podB, "/"));
        Assert.True(clock.ElapsedMilliseconds < 3000, $"pod B waited {clock.ElapsedMilliseconds} ms: the idle connection to A was not recognised");
        Assert.False(slow.IsCompleted);
        Assert.Equal(HttpStatusCode.OK, await slow); // the busy connection was left alone
        Assert.Equal(2, limiter.OpenConnections);
    }
}

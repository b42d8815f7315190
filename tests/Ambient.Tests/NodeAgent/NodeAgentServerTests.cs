using System.Text;
using Ambient.NodeAgent;

namespace Ambient.Tests.NodeAgent;

/// <summary>The daemon side, driven by a raw agent connection so that every protocol rule can be broken on purpose.</summary>
public sealed class NodeAgentServerTests : IAsyncLifetime
{
    private readonly TempSocketPath _path = new();
    private readonly RecordingHandler _handler = new();
    private NodeAgentServer _server = null!;

    public Task InitializeAsync()
    {
        _server = new NodeAgentServer(_handler, _path.Path);
        _server.Start();
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        _handler.Dispose();
        _path.Dispose();
    }

    private async Task<SeqPacketConnection> ConnectAsync(bool hello = true)
    {
        var connection = await SeqPacketConnection.ConnectAsync(_path.Path);
        if (hello) Assert.Null(await ExchangeAsync(connection, new NodeAgentMessage.Hello(1)));
        return connection;
    }

    private static Task<string?> ExchangeAsync(SeqPacketConnection connection, NodeAgentMessage message, SafeHandleOrNull fd = default) =>
        ExchangeRawAsync(connection, NodeAgentCodec.Encode(message), fd.Handle);

    private static async Task<string?> ExchangeRawAsync(SeqPacketConnection connection, byte[] payload, System.Runtime.InteropServices.SafeHandle? fd = null)
    {
        await connection.SendAsync(payload, fd);
        return await ReadAckAsync(connection);
    }

    private static async Task<string?> ReadAckAsync(SeqPacketConnection connection)
    {
        var packet = await connection.ReceiveAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(5));
        Assert.NotNull(packet);
        Assert.Null(packet.Value.Fd);
        return Assert.IsType<NodeAgentMessage.Ack>(NodeAgentCodec.Decode(packet.Value.Payload)).Error;
    }

    private static async Task AssertClosedAsync(SeqPacketConnection connection) =>
        Assert.Null(await connection.ReceiveAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(5)));

    [Fact]
    public async Task SnapshotCompleteSeesExactlyThePodsAddedOrKeptSinceHello()
    {
        using var connection = await ConnectAsync();
        using var netns = File.OpenHandle("/proc/self/ns/net");
        Assert.Null(await ExchangeAsync(connection, new NodeAgentMessage.Keep(Pods.Make("a", "10.0.0.1")), new(netns)));
        Assert.Null(await ExchangeAsync(connection, new NodeAgentMessage.Keep(Pods.Make("b", "10.0.0.2", "fd00::2")), new(netns)));
        Assert.Null(await ExchangeAsync(connection, new NodeAgentMessage.Add(Pods.Make("c")), new(netns)));
        Assert.Null(await ExchangeAsync(connection, new NodeAgentMessage.Delete("c")));
        Assert.Null(await ExchangeAsync(connection, new NodeAgentMessage.SnapshotSent()));

        var keepA = await _handler.NextAsync();
        Assert.Equal(("keep", Pods.Make("a", "10.0.0.1")), (keepA.Kind, keepA.Pod));
        Assert.Equal(FileIdentity.Of("/proc/self/ns/net"), keepA.Netns);
        Assert.Equal(("keep", Pods.Make("b", "10.0.0.2", "fd00::2")), (await _handler.NextAsync()).Let(c => (c.Kind, c.Pod)));
        Assert.Equal(("add", "c"), (await _handler.NextAsync()).Let(c => (c.Kind, c.Uid)));
        Assert.Equal(("delete", "c"), (await _handler.NextAsync()).Let(c => (c.Kind, c.Uid)));
        var snapshot = await _handler.NextAsync();
        Assert.Equal("snapshot", snapshot.Kind);
        Assert.Equal(["a", "b"], snapshot.Snapshot!.Order());

        Assert.Equal("duplicate \"snapshotSent\"", await ExchangeAsync(connection, new NodeAgentMessage.SnapshotSent()));
        Assert.Equal("duplicate \"hello\"", await ExchangeAsync(connection, new NodeAgentMessage.Hello(1)));
        Assert.Null(await ExchangeAsync(connection, new NodeAgentMessage.Delete("a")));
        Assert.True(_server.AgentConnected);
    }

    [Fact]
    public async Task AcksEveryBadMessageWithAnErrorAndCarriesOn()
    {
        using var connection = await ConnectAsync();
        using var netns = File.OpenHandle("/proc/self/ns/net");

        Assert.Contains("not valid JSON", await ExchangeRawAsync(connection, "{oops"u8.ToArray()));
        Assert.Contains("unknown node agent message type \"launch\"", await ExchangeRawAsync(connection, """{"type":"launch"}"""u8.ToArray()));
        Assert.Contains("\"add\" message: missing \"serviceAccount\"",
            await ExchangeRawAsync(connection, """{"type":"add","uid":"u","name":"n","namespace":"ns","ips":[]}"""u8.ToArray(), netns));
        Assert.Equal("\"add\" requires the pod's network namespace as a file descriptor",
            await ExchangeAsync(connection, new NodeAgentMessage.Add(Pods.Make("u"))));
        Assert.Equal("\"keep\" requires the pod's network namespace as a file descriptor",
            await ExchangeAsync(connection, new NodeAgentMessage.Keep(Pods.Make("u"))));
        Assert.Equal("\"delete\" must not carry a file descriptor", await ExchangeAsync(connection, new NodeAgentMessage.Delete("u"), new(netns)));
        Assert.Equal("unexpected \"ack\" from the node agent", await ExchangeAsync(connection, NodeAgentMessage.Ack.Ok));

        connection.MaxPacketSize = 100_000;
        Assert.Contains("longer than 65536 bytes", await ExchangeRawAsync(connection, new byte[70_000]));
        TestNative.SendWithFds(connection, NodeAgentCodec.Encode(new NodeAgentMessage.Add(Pods.Make("u"))), netns, netns);
        Assert.Contains("carried 2 file descriptors", await ReadAckAsync(connection));

        // None of that reached the handler; the session still works.
        Assert.Null(await ExchangeAsync(connection, new NodeAgentMessage.Add(Pods.Make("ok")), new(netns)));
        Assert.Equal(("add", "ok"), (await _handler.NextAsync()).Let(c => (c.Kind, c.Uid)));
        await _handler.AssertQuietAsync(50);
    }

    [Fact]
    public async Task AcksTheHandlersErrors()
    {
        _handler.OnAdd = (pod, keep) => Task.FromResult(pod.Uid == "broken" ? $"cannot open listeners for {pod.Name} (keep={keep})" : null);
        _handler.OnDelete = uid => throw new InvalidOperationException($"exploded deleting {uid}");
        using var connection = await ConnectAsync();
        using var netns = File.OpenHandle("/proc/self/ns/net");

        Assert.Equal("cannot open listeners for pod-broken (keep=False)", await ExchangeAsync(connection, new NodeAgentMessage.Add(Pods.Make("broken")), new(netns)));
        Assert.Null(await ExchangeAsync(connection, new NodeAgentMessage.Add(Pods.Make("fine")), new(netns)));
        Assert.Equal("delete failed in the daemon: exploded deleting fine", await ExchangeAsync(connection, new NodeAgentMessage.Delete("fine")));
        Assert.Null(await ExchangeAsync(connection, new NodeAgentMessage.SnapshotSent()));
    }

    [Fact]
    public async Task RefusesAnotherVersionAndCloses()
    {
        using var connection = await ConnectAsync(hello: false);
        Assert.Equal("unsupported protocol version 2; this daemon speaks version 1", await ExchangeAsync(connection, new NodeAgentMessage.Hello(2)));
        await AssertClosedAsync(connection);

        // The next agent is served.
        using var next = await ConnectAsync();
        Assert.Null(await ExchangeAsync(next, new NodeAgentMessage.SnapshotSent()));
    }

    [Fact]
    public async Task RefusesAnythingBeforeHelloAndCloses()
    {
        using (var connection = await ConnectAsync(hello: false))
        {
            Assert.Equal("expected \"hello\" first, got \"delete\"", await ExchangeAsync(connection, new NodeAgentMessage.Delete("a")));
            await AssertClosedAsync(connection);
        }
        using (var connection = await ConnectAsync(hello: false))
        {
            Assert.Contains("not valid JSON", await ExchangeRawAsync(connection, "hello"u8.ToArray()));
            await AssertClosedAsync(connection);
        }
        await _handler.AssertQuietAsync(50);
    }

    [Fact]
    public async Task ServesOneAgentAtATimeAndWaitsForTheNext()
    {
        var first = await ConnectAsync();
        using var netns = File.OpenHandle("/proc/self/ns/net");
        Assert.Null(await ExchangeAsync(first, new NodeAgentMessage.Add(Pods.Make("from-first")), new(netns)));

        // A second agent gets connected by the kernel (backlog) but is not served while the first is there.
        using var second = await SeqPacketConnection.ConnectAsync(_path.Path);
        await second.SendAsync(NodeAgentCodec.Encode(new NodeAgentMessage.Hello(1)));
        var secondAck = ReadAckAsync(second);
        await Task.Delay(200);
        Assert.False(secondAck.IsCompleted);

        // The first agent goes away: nothing is deleted, and the second one is served.
        first.Dispose();
        Assert.Null(await secondAck);
        Assert.Null(await ExchangeAsync(second, new NodeAgentMessage.Keep(Pods.Make("from-second")), new(netns)));
        Assert.Null(await ExchangeAsync(second, new NodeAgentMessage.SnapshotSent()));

        Assert.Equal(("add", "from-first"), (await _handler.NextAsync()).Let(c => (c.Kind, c.Uid)));
        Assert.Equal(("keep", "from-second"), (await _handler.NextAsync()).Let(c => (c.Kind, c.Uid)));
        Assert.Equal(["from-second"], (await _handler.NextAsync()).Snapshot!.Order());
        Assert.Equal(2, _server.SessionCount);
    }

    [Fact]
    public async Task StopsCleanlyWithAnAgentConnected()
    {
        using var connection = await ConnectAsync();
        await _server.DisposeAsync();
        await AssertClosedAsync(connection);
        Assert.False(File.Exists(_path.Path));
    }

    [Fact]
    public async Task RefusesToStartWhereAnotherDaemonListens()
    {
        await using var other = new NodeAgentServer(_handler, _path.Path);
        var e = Assert.Throws<IOException>(other.Start);
        Assert.Contains("another process is listening", e.Message);
        using var connection = await ConnectAsync(); // the first one is unharmed
    }
}

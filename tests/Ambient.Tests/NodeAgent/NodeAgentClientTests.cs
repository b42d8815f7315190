using Ambient.NodeAgent;
using Microsoft.Win32.SafeHandles;

namespace Ambient.Tests.NodeAgent;

/// <summary>The agent side against the real daemon side: snapshot, changes, daemon restarts, agent restarts.</summary>
public sealed class NodeAgentClientTests : IAsyncLifetime
{
    private readonly TempSocketPath _path = new();
    private readonly List<IDisposable> _disposables = [];
    private readonly List<IAsyncDisposable> _asyncDisposables = [];

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        for (var i = _asyncDisposables.Count - 1; i >= 0; i--) await _asyncDisposables[i].DisposeAsync();
        foreach (var d in _disposables) d.Dispose();
        _path.Dispose();
    }

    private NodeAgentClientOptions Options(double ackTimeoutSeconds = 5) => new()
    {
        SocketPath = _path.Path,
        AckTimeout = TimeSpan.FromSeconds(ackTimeoutSeconds),
        ReconnectMinDelay = TimeSpan.FromMilliseconds(20),
        ReconnectMaxDelay = TimeSpan.FromMilliseconds(200),
    };

    private (NodeAgentServer Server, RecordingHandler Handler) StartServer()
    {
        var handler = new RecordingHandler();
        var server = new NodeAgentServer(handler, _path.Path);
        server.Start();
        _disposables.Add(handler);
        _asyncDisposables.Add(server);
        return (server, handler);
    }

    private NodeAgentClient NewClient(NodeAgentClientOptions? options = null)
    {
        var client = new NodeAgentClient(options ?? Options());
        _asyncDisposables.Add(client);
        return client;
    }

    /// <summary>A distinct file per pod stands in for its network namespace (identity is what the tests compare).</summary>
    private SafeFileHandle NetnsFile(string name)
    {
        Directory.CreateDirectory(_path.Directory);
        var path = Path.Combine(_path.Directory, name + ".netns");
        File.WriteAllText(path, name);
        var handle = File.OpenHandle(path);
        _disposables.Add(handle);
        return handle;
    }

    private static async Task<T> Within<T>(Task<T> task, double seconds = 5) => await task.WaitAsync(TimeSpan.FromSeconds(seconds));

    private static async Task<Dictionary<string, HandlerCall>> ExpectSnapshotAsync(RecordingHandler handler, params string[] uids)
    {
        var keeps = new Dictionary<string, HandlerCall>();
        for (var i = 0; i < uids.Length; i++)
        {
            var call = await handler.NextAsync();
            Assert.Equal("keep", call.Kind);
            keeps.Add(call.Uid!, call);
        }
        var snapshot = await handler.NextAsync();
        Assert.Equal("snapshot", snapshot.Kind);
        Assert.Equal(uids.Order(), snapshot.Snapshot!.Order());
        Assert.Equal(uids.Order(), keeps.Keys.Order());
        return keeps;
    }

    [Fact]
    public async Task FullFlowSnapshotThenChanges()
    {
        var (_, handler) = StartServer();
        var client = NewClient();
        var netnsA = NetnsFile("a");
        var netnsB = NetnsFile("b");
        var addA = client.AddPodAsync(Pods.Make("a", "10.1.0.1"), netnsA);
        var addB = client.AddPodAsync(Pods.Make("b", "10.1.0.2", "fd00::2"), netnsB);
        client.Start();

        // Hello, a keep per pod, snapshotSent: the daemon sees exactly those pods, each with its own namespace.
        var keeps = await ExpectSnapshotAsync(handler, "a", "b");
        Assert.Equal(Pods.Make("b", "10.1.0.2", "fd00::2"), keeps["b"].Pod);
        Assert.Equal(FileIdentity.Of(netnsA), keeps["a"].Netns);
        Assert.Equal(FileIdentity.Of(netnsB), keeps["b"].Netns);
        Assert.Null(await Within(addA));
        Assert.Null(await Within(addB));
        await client.WhenSyncedAsync().WaitAsync(TimeSpan.FromSeconds(5));
        Assert.True(client.IsSynced);

        // Then changes one by one, each answered by its ack.
        var netnsC = NetnsFile("c");
        Assert.Null(await Within(client.AddPodAsync(Pods.Make("c", "10.1.0.3"), netnsC)));
        var addC = await handler.NextAsync();
        Assert.Equal(("add", FileIdentity.Of(netnsC)), (addC.Kind, addC.Netns));
        Assert.Null(await Within(client.RemovePodAsync("a")));
        Assert.Equal(("delete", "a"), (await handler.NextAsync()).Let(c => (c.Kind, c.Uid)));
        Assert.Equal(["b", "c"], client.Pods.Select(p => p.Uid).Order());

        // The daemon's error comes back to the caller.
        handler.OnAdd = (pod, _) => Task.FromResult<string?>($"no room for {pod.Uid}");
        Assert.Equal("no room for d", await Within(client.AddPodAsync(Pods.Make("d"), NetnsFile("d"))));
        Assert.Equal(1, client.SyncCount);
    }

    [Fact]
    public async Task ReconnectsAfterADaemonRestartAndReplaysItsState()
    {
        var (server, handler) = StartServer();
        var client = NewClient();
        var netnsA = NetnsFile("a");
        var netnsB = NetnsFile("b");
        client.Start();
        await client.WhenSyncedAsync().WaitAsync(TimeSpan.FromSeconds(5));
        await ExpectSnapshotAsync(handler);
        Assert.Null(await Within(client.AddPodAsync(Pods.Make("a"), netnsA)));
        Assert.Null(await Within(client.AddPodAsync(Pods.Make("b"), netnsB)));
        Assert.Null(await Within(client.RemovePodAsync("a")));

        // The daemon goes away. Changes made meanwhile are kept and answered later.
        await server.DisposeAsync();
        var netnsC = NetnsFile("c");
        var addC = client.AddPodAsync(Pods.Make("c"), netnsC);
        var removeB = client.RemovePodAsync("b");
        await Task.Delay(100);
        Assert.False(addC.IsCompleted);

        // A new daemon: the agent says hello again and replays its whole current state.
        var (_, restarted) = StartServer();
        var keeps = await ExpectSnapshotAsync(restarted, "c");
        Assert.Equal(FileIdentity.Of(netnsC), keeps["c"].Netns);
        Assert.Null(await Within(addC));
        Assert.Null(await Within(removeB));
        Assert.True(client.SyncCount >= 2);

        // And carries on with live changes on the new connection.
        Assert.Null(await Within(client.AddPodAsync(Pods.Make("e"), netnsA)));
        var addE = await restarted.NextAsync();
        Assert.Equal(("add", "e", FileIdentity.Of(netnsA)), (addE.Kind, addE.Uid, addE.Netns));
    }

    [Fact]
    public async Task WaitsForADaemonThatIsNotThereYet()
    {
        var client = NewClient();
        client.Start();
        var add = client.AddPodAsync(Pods.Make("early"), NetnsFile("early"));
        await Task.Delay(300); // several failed connection attempts
        Assert.False(add.IsCompleted);
        Assert.False(client.IsSynced);

        var (_, handler) = StartServer();
        await ExpectSnapshotAsync(handler, "early");
        Assert.Null(await Within(add));
    }

    [Fact]
    public async Task AReplacementAgentReplaysItsOwnSnapshot()
    {
        var (server, handler) = StartServer();
        var first = NewClient();
        first.Start();
        await ExpectSnapshotAsync(handler);
        Assert.Null(await Within(first.AddPodAsync(Pods.Make("a"), NetnsFile("a"))));
        Assert.Equal("add", (await handler.NextAsync()).Kind);

        // The agent restarts: the daemon keeps its pods until the new agent's snapshot says what is still there.
        await first.DisposeAsync();
        var second = NewClient();
        var addB = second.AddPodAsync(Pods.Make("b"), NetnsFile("b"));
        await handler.AssertQuietAsync(100); // no delete for "a" when the first agent went away
        second.Start();
        await ExpectSnapshotAsync(handler, "b"); // "a" is not in it: the daemon drops it now
        Assert.Null(await Within(addB));
        Assert.Equal(2, server.SessionCount);
    }

    [Fact]
    public async Task ReconnectsWhenAnAckIsLate()
    {
        var (_, handler) = StartServer();
        var gate = new TaskCompletionSource<string?>(TaskCreationOptions.RunContinuationsAsynchronously);
        handler.OnAdd = (_, keep) => keep ? Task.FromResult<string?>(null) : gate.Task;
        var client = NewClient(Options(ackTimeoutSeconds: 0.3));
        client.Start();
        await ExpectSnapshotAsync(handler);

        var netns = NetnsFile("slow");
        var add = client.AddPodAsync(Pods.Make("slow"), netns);
        Assert.Equal("add", (await handler.NextAsync()).Kind);
        await Task.Delay(500); // the agent gave up on this connection; its next one waits in the backlog
        Assert.False(add.IsCompleted);

        gate.SetResult(null); // the stuck handler returns; the daemon serves the reconnected agent
        var keeps = await ExpectSnapshotAsync(handler, "slow");
        Assert.Equal(FileIdentity.Of(netns), keeps["slow"].Netns);
        Assert.Null(await Within(add));
    }

    [Fact]
    public async Task RejectsInvalidPodsUpFront()
    {
        var client = NewClient();
        var netns = NetnsFile("x");
        Assert.Throws<ArgumentException>(() => { _ = client.AddPodAsync(Pods.Make("x") with { Namespace = "" }, netns); });
        Assert.Throws<ArgumentException>(() => { _ = client.RemovePodAsync(""); });
        Assert.Empty(client.Pods);
        await client.DisposeAsync();
        await Assert.ThrowsAsync<ObjectDisposedException>(() => client.AddPodAsync(Pods.Make("x"), netns));
    }

    [Fact]
    public async Task DisposingCancelsUnansweredChanges()
    {
        var client = NewClient();
        client.Start();
        var add = client.AddPodAsync(Pods.Make("never"), NetnsFile("never"));
        await client.DisposeAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => add);
    }

    [Fact]
    public async Task SpeaksTheProtocolOnTheWireAndRetriesARefusedHello()
    {
        // A scripted daemon: refuse the first hello, then accept the second session.
        using var listener = SeqPacketListener.Bind(_path.Path);
        var client = NewClient();
        var netns = NetnsFile("wire");
        var add = client.AddPodAsync(Pods.Make("wire", "10.9.0.1"), netns);
        client.Start();

        async Task<(NodeAgentMessage Message, SafeFileHandle? Fd)> NextAsync(SeqPacketConnection connection)
        {
            var packet = await connection.ReceiveAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(5));
            Assert.NotNull(packet);
            return (NodeAgentCodec.Decode(packet.Value.Payload), packet.Value.Fd);
        }

        using (var refused = await listener.AcceptAsync().WaitAsync(TimeSpan.FromSeconds(5)))
        {
            Assert.Equal(new NodeAgentMessage.Hello(1), (await NextAsync(refused)).Message);
            await refused.SendAsync(NodeAgentCodec.Encode(new NodeAgentMessage.Ack("unsupported protocol version 1")));
        }

        using var accepted = await listener.AcceptAsync().WaitAsync(TimeSpan.FromSeconds(5));
        var (hello, helloFd) = await NextAsync(accepted);
        Assert.Equal((new NodeAgentMessage.Hello(1), (SafeFileHandle?)null), (hello, helloFd));
        await accepted.SendAsync(NodeAgentCodec.Encode(NodeAgentMessage.Ack.Ok));

        var (keep, keepFd) = await NextAsync(accepted);
        using (keepFd)
        {
            Assert.Equal(new NodeAgentMessage.Keep(Pods.Make("wire", "10.9.0.1")), keep);
            Assert.NotNull(keepFd);
            Assert.Equal(FileIdentity.Of(netns), FileIdentity.Of(keepFd));
        }
        Assert.False(add.IsCompleted, "the change is answered by the ack of its keep, not before");
        await accepted.SendAsync(NodeAgentCodec.Encode(new NodeAgentMessage.Ack("namespace is gone")));
        Assert.Equal("namespace is gone", await Within(add));

        Assert.IsType<NodeAgentMessage.SnapshotSent>((await NextAsync(accepted)).Message);
        Assert.False(client.IsSynced);
        await accepted.SendAsync(NodeAgentCodec.Encode(NodeAgentMessage.Ack.Ok));
        await client.WhenSyncedAsync().WaitAsync(TimeSpan.FromSeconds(5));

        var remove = client.RemovePodAsync("wire");
        Assert.Equal(new NodeAgentMessage.Delete("wire"), (await NextAsync(accepted)).Message);
        await accepted.SendAsync(NodeAgentCodec.Encode(NodeAgentMessage.Ack.Ok));
        Assert.Null(await Within(remove));

        // An unexpected message from the daemon ends the session; the agent reconnects.
        await accepted.SendAsync(NodeAgentCodec.Encode(NodeAgentMessage.Ack.Ok));
        Assert.Null(await accepted.ReceiveAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(5)));
        using var third = await listener.AcceptAsync().WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal(new NodeAgentMessage.Hello(1), (await NextAsync(third)).Message);
    }
}

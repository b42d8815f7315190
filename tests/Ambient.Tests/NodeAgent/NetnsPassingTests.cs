using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using Ambient.NodeAgent;
using Ambient.Tests.Support;
using Microsoft.Win32.SafeHandles;

namespace Ambient.Tests.NodeAgent;

/// <summary>
/// A real pod network namespace travels from the agent to the daemon, and the daemon opens a listener inside it with
/// the descriptor it received (setns on a dedicated thread, as the daemon does).
/// </summary>
public sealed class NetnsPassingTests : IAsyncLifetime
{
    private static readonly IPAddress PodOnlyAddress = IPAddress.Parse("192.0.2.77"); // TEST-NET-1, only inside the namespace

    private readonly TempSocketPath _path = new();
    private readonly RecordingHandler _handler = new();
    private NetNs? _pod;

    public Task InitializeAsync() => Task.CompletedTask;

    public Task DisposeAsync()
    {
        _handler.Dispose();
        _pod?.Dispose();
        _path.Dispose();
        return Task.CompletedTask;
    }

    [Fact]
    public async Task DaemonOpensAListenerInsideThePodNamespaceItReceived()
    {
        Assert.True(NetNs.Available, "needs root and iproute2 (CI runs as root)");
        _pod = new NetNs();
        _pod.Exec($"ip addr add {PodOnlyAddress}/32 dev lo");
        var hostBind = Assert.Throws<SocketException>(() => BindListener());
        Assert.Equal(SocketError.AddressNotAvailable, hostBind.SocketErrorCode);

        await using var server = new NodeAgentServer(_handler, _path.Path);
        server.Start();
        await using var client = new NodeAgentClient(new NodeAgentClientOptions { SocketPath = _path.Path });
        client.Start();
        await client.WhenSyncedAsync().WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal("snapshot", (await _handler.NextAsync()).Kind);
        using (var netns = File.OpenHandle($"/var/run/netns/{_pod.Name}"))
        {
            var pod = new PodInfo("pod-uid-1", "web-0", "shop", "web", [PodOnlyAddress]);
            Assert.Null(await client.AddPodAsync(pod, netns).WaitAsync(TimeSpan.FromSeconds(5)));
        }

        var add = await _handler.NextAsync();
        Assert.Equal(("add", "pod-uid-1"), (add.Kind, add.Uid));
        var received = _handler.NetnsOf("pod-uid-1");
        Assert.Equal(FileIdentity.Of($"/var/run/netns/{_pod.Name}"), FileIdentity.Of(received));
        Assert.NotEqual(FileIdentity.Of("/proc/self/ns/net"), FileIdentity.Of(received));

        // Enter the namespace through the received descriptor on a dedicated thread, bind there, come back.
        var (listener, insideIdentity) = RunInNamespace(received, () => (BindListener(), FileIdentity.Of("/proc/thread-self/ns/net")));
        using (listener)
        {
            Assert.Equal(FileIdentity.Of(received), insideIdentity);
            var port = ((IPEndPoint)listener.LocalEndPoint!).Port;
            Assert.Contains($"{PodOnlyAddress}:{port}", _pod.Exec("ss -Hltn"));

            // A client inside the pod reaches it.
            using var inPod = _pod.CreateSocket();
            var accept = listener.AcceptAsync();
            await inPod.ConnectAsync(new IPEndPoint(PodOnlyAddress, port)).WaitAsync(TimeSpan.FromSeconds(5));
            using var accepted = await accept.WaitAsync(TimeSpan.FromSeconds(5));
            await inPod.SendAsync("hi"u8.ToArray());
            var buffer = new byte[2];
            Assert.Equal(2, await accepted.ReceiveAsync(buffer).WaitAsync(TimeSpan.FromSeconds(5)));
        }

        // The agent takes the pod out of the mesh: the daemon's handler releases the namespace.
        Assert.Null(await client.RemovePodAsync("pod-uid-1").WaitAsync(TimeSpan.FromSeconds(5)));
        Assert.Equal(("delete", "pod-uid-1"), (await _handler.NextAsync()).Let(c => (c.Kind, c.Uid)));
    }

    private static Socket BindListener()
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            socket.Bind(new IPEndPoint(PodOnlyAddress, 0));
            socket.Listen(8);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>Runs <paramref name="action"/> on a new thread that has entered <paramref name="netns"/> (never a pool thread, DESIGN.md §8).</summary>
    private static T RunInNamespace<T>(SafeFileHandle netns, Func<T> action)
    {
        T result = default!;
        Exception? error = null;
        var thread = new Thread(() =>
        {
            using var host = File.OpenHandle("/proc/thread-self/ns/net");
            if (TestNative.setns((int)netns.DangerousGetHandle(), TestNative.CloneNewNet) != 0)
            {
                error = new IOException($"setns failed: errno {Marshal.GetLastPInvokeError()}");
                return;
            }
            try
            {
                result = action();
            }
            catch (Exception e)
            {
                error = e;
            }
            finally
            {
                if (TestNative.setns((int)host.DangerousGetHandle(), TestNative.CloneNewNet) != 0)
                    Environment.FailFast("could not return to the host network namespace");
            }
        });
        thread.Start();
        thread.Join();
        return error is null ? result : throw new AggregateException(error);
    }
}

using System.Net.Sockets;
using System.Text;
using Ambient.NodeAgent;
using Microsoft.Win32.SafeHandles;

namespace Ambient.Tests.NodeAgent;

/// <summary>The SOCK_SEQPACKET transport with SCM_RIGHTS, over real sockets and real descriptors.</summary>
public sealed class SeqPacketTransportTests : IDisposable
{
    private readonly TempSocketPath _path = new();

    public void Dispose() => _path.Dispose();

    private async Task<(SeqPacketListener Listener, SeqPacketConnection Client, SeqPacketConnection Server)> PairAsync()
    {
        var listener = SeqPacketListener.Bind(_path.Path);
        var accept = listener.AcceptAsync();
        var client = await SeqPacketConnection.ConnectAsync(_path.Path);
        return (listener, client, await accept.WaitAsync(TimeSpan.FromSeconds(5)));
    }

    private static async Task<SeqPacket> ReceiveAsync(SeqPacketConnection connection)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        var packet = await connection.ReceiveAsync(timeout.Token);
        Assert.NotNull(packet);
        return packet.Value;
    }

    [Fact]
    public async Task KeepsMessageBoundaries()
    {
        var (listener, client, server) = await PairAsync();
        using (listener)
        using (client)
        using (server)
        {
            int[] sizes = [1, 100, 1, SeqPacketConnection.DefaultMaxPacketSize, 3, 7000];
            for (var i = 0; i < sizes.Length; i++)
                await client.SendAsync(Enumerable.Repeat((byte)(i + 1), sizes[i]).ToArray());
            for (var i = 0; i < sizes.Length; i++)
            {
                var packet = await ReceiveAsync(server);
                Assert.Equal(sizes[i], packet.Payload.Length);
                Assert.All(packet.Payload, b => Assert.Equal((byte)(i + 1), b));
                Assert.Null(packet.Fd);
            }

            // Both directions, interleaved.
            await server.SendAsync("pong"u8.ToArray());
            await client.SendAsync("ping"u8.ToArray());
            Assert.Equal("pong", Encoding.ASCII.GetString((await ReceiveAsync(client)).Payload));
            Assert.Equal("ping", Encoding.ASCII.GetString((await ReceiveAsync(server)).Payload));
        }
    }

    [Fact]
    public async Task PassesAFileDescriptor()
    {
        var file = Path.Combine(_path.Directory, "payload.txt");
        Directory.CreateDirectory(_path.Directory);
        await File.WriteAllTextAsync(file, "contents seen through the passed descriptor");
        var (listener, client, server) = await PairAsync();
        using (listener)
        using (client)
        using (server)
        {
            using (var original = File.OpenHandle(file))
                await client.SendAsync("with fd"u8.ToArray(), original);
            // The sender closed its descriptor; the receiver's copy is independent.
            var packet = await ReceiveAsync(server);
            using var received = packet.Fd;
            Assert.NotNull(received);
            Assert.Equal("with fd", Encoding.ASCII.GetString(packet.Payload));
            Assert.Equal(FileIdentity.Of(file), FileIdentity.Of(received));
            Assert.True(TestNative.IsCloseOnExec(received), "received descriptors must be close-on-exec");
            var buffer = new byte[256];
            var n = RandomAccess.Read(received, buffer, 0);
            Assert.Equal("contents seen through the passed descriptor", Encoding.UTF8.GetString(buffer, 0, n));
        }
    }

    [Fact]
    public async Task PassesANetworkNamespaceDescriptor()
    {
        var (listener, client, server) = await PairAsync();
        using (listener)
        using (client)
        using (server)
        {
            using (var netns = File.OpenHandle("/proc/self/ns/net"))
                await client.SendAsync("netns"u8.ToArray(), netns);
            await client.SendAsync("no fd"u8.ToArray());

            var packet = await ReceiveAsync(server);
            using var received = packet.Fd;
            Assert.NotNull(received);
            Assert.Equal(FileIdentity.Of("/proc/self/ns/net"), FileIdentity.Of(received));

            var second = await ReceiveAsync(server);
            Assert.Equal("no fd", Encoding.ASCII.GetString(second.Payload));
            Assert.Null(second.Fd);
        }
    }

    [Fact]
    public async Task DropsAPacketWithSeveralDescriptorsAndGoesOn()
    {
        var (listener, client, server) = await PairAsync();
        using (listener)
        using (client)
        using (server)
        {
            using (var a = File.OpenHandle("/proc/self/ns/net"))
            using (var b = File.OpenHandle("/proc/self/ns/net"))
                TestNative.SendWithFds(client, "two fds"u8.ToArray(), a, b);
            await client.SendAsync("next"u8.ToArray());

            var e = await Assert.ThrowsAsync<InvalidDataException>(async () => await server.ReceiveAsync());
            Assert.Contains("carried 2 file descriptors (at most 1 is allowed)", e.Message);
            Assert.Equal("next", Encoding.ASCII.GetString((await ReceiveAsync(server)).Payload));
        }
    }

    [Fact]
    public async Task DropsAPacketLongerThanTheLimitAndGoesOn()
    {
        var (listener, client, server) = await PairAsync();
        using (listener)
        using (client)
        using (server)
        {
            client.MaxPacketSize = 200_000;
            var sends = Task.Run(async () =>
            {
                // The second packet may not fit in the socket buffer until the first one is read: send concurrently.
                await client.SendAsync(new byte[SeqPacketConnection.DefaultMaxPacketSize + 1]);
                await client.SendAsync(new byte[150_000]);
                await client.SendAsync("next"u8.ToArray());
            });

            var e = await Assert.ThrowsAsync<InvalidDataException>(async () => await server.ReceiveAsync());
            Assert.Contains("longer than 65536 bytes was dropped", e.Message);
            await Assert.ThrowsAsync<InvalidDataException>(async () => await server.ReceiveAsync());
            Assert.Equal("next", Encoding.ASCII.GetString((await ReceiveAsync(server)).Payload));
            await sends.WaitAsync(TimeSpan.FromSeconds(5));
        }
    }

    [Fact]
    public async Task RefusesToSendEmptyOrOverlongPackets()
    {
        var (listener, client, server) = await PairAsync();
        using (listener)
        using (client)
        using (server)
        {
            await Assert.ThrowsAsync<ArgumentException>(async () => await client.SendAsync(Array.Empty<byte>()));
            await Assert.ThrowsAsync<ArgumentException>(async () => await client.SendAsync(new byte[SeqPacketConnection.DefaultMaxPacketSize + 1]));
            var closed = File.OpenHandle("/proc/self/ns/net");
            closed.Dispose();
            await Assert.ThrowsAsync<ArgumentException>(async () => await client.SendAsync("x"u8.ToArray(), closed));
        }
    }

    [Fact]
    public async Task ReportsEndOfStreamAsNull()
    {
        var (listener, client, server) = await PairAsync();
        using (listener)
        using (server)
        {
            var pending = server.ReceiveAsync().AsTask();
            await Task.Delay(50);
            Assert.False(pending.IsCompleted);
            await client.SendAsync("last"u8.ToArray());
            client.Dispose();
            Assert.Equal("last", Encoding.ASCII.GetString((await pending.WaitAsync(TimeSpan.FromSeconds(5)))!.Value.Payload));
            Assert.Null(await server.ReceiveAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(5)));
            Assert.Null(await server.ReceiveAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(5)));
            await Assert.ThrowsAsync<IOException>(async () => await server.SendAsync("x"u8.ToArray()));
        }
    }

    [Fact]
    public async Task CancelsAPendingReceive()
    {
        var (listener, client, server) = await PairAsync();
        using (listener)
        using (client)
        using (server)
        {
            using var cts = new CancellationTokenSource(100);
            await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await server.ReceiveAsync(cts.Token));
        }
    }

    [Fact]
    public async Task WaitsForRoomWhenThePeerDoesNotRead()
    {
        var (listener, client, server) = await PairAsync();
        using (listener)
        using (client)
        using (server)
        {
            // Fill the peer's queue until a send has to wait, then drain it: every packet arrives, in order.
            var payload = new byte[32 * 1024];
            var sent = 0;
            Task send;
            while (true)
            {
                BitConverter.TryWriteBytes(payload, sent);
                send = client.SendAsync(payload).AsTask();
                if (!send.IsCompleted) break;
                await send;
                sent++;
                Assert.True(sent < 10_000, "the socket never filled up");
            }
            for (var i = 0; i <= sent; i++)
                Assert.Equal(i, BitConverter.ToInt32((await ReceiveAsync(server)).Payload));
            await send.WaitAsync(TimeSpan.FromSeconds(5));
        }
    }

    [Fact]
    public async Task ConnectFailsWhenNobodyListens()
    {
        await Assert.ThrowsAnyAsync<SocketException>(() => SeqPacketConnection.ConnectAsync(_path.Path));
    }

    [Fact]
    public void ListenerReplacesAStaleSocketFile()
    {
        Directory.CreateDirectory(_path.Directory);
        using (var dead = new Socket(AddressFamily.Unix, SocketType.Seqpacket, ProtocolType.Unspecified))
        {
            dead.Bind(new UnixPathEndPoint(_path.Path)); // like a daemon that died: the file stays, nobody listens
            dead.Listen();
        }
        Assert.True(File.Exists(_path.Path));
        using var listener = SeqPacketListener.Bind(_path.Path);
        using var client = SeqPacketConnection.Connect(_path.Path);
        if (OperatingSystem.IsLinux())
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(_path.Path));
    }

    [Fact]
    public void ListenerRefusesAPathInUseOrNotASocket()
    {
        using (var live = SeqPacketListener.Bind(_path.Path))
        {
            var e = Assert.Throws<IOException>(() => SeqPacketListener.Bind(_path.Path));
            Assert.Contains("another process is listening", e.Message);
        }
        Assert.False(File.Exists(_path.Path), "disposing the listener removes its socket file");

        File.WriteAllText(_path.Path, "precious");
        var notSocket = Assert.Throws<IOException>(() => SeqPacketListener.Bind(_path.Path));
        Assert.Contains("is not a socket", notSocket.Message);
        Assert.Equal("precious", File.ReadAllText(_path.Path));
    }

    [Fact]
    public void ListenerLeavesASocketFileItNoLongerOwns()
    {
        var first = SeqPacketListener.Bind(_path.Path);
        File.Delete(_path.Path); // e.g. an operator removed it and a new daemon took the path over
        using var second = SeqPacketListener.Bind(_path.Path);
        first.Dispose();
        Assert.True(File.Exists(_path.Path));
        using var client = SeqPacketConnection.Connect(_path.Path);
    }
}

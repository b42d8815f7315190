using System.Net;
using System.Net.Sockets;
using System.Text;
using Ambient.TestBed;

namespace Ambient.Tests.TestBed;

/// <summary>Builds clusters for the test-bed tests (prefix "ambt", so CleanupStale("amb") in other suites never matches).</summary>
internal static class Bed
{
    public const string Prefix = "ambt";

    /// <summary>Leftovers of earlier runs that were killed before they could clean up (live clusters are spared).</summary>
    static Bed()
    {
        if (Cluster.IsSupported(out _)) Cluster.CleanupStale(Prefix);
    }

    public static void RequireRoot() =>
        Assert.True(Cluster.IsSupported(out var why), $"the test bed needs root and iproute2 (CI runs as root): {why}");

    /// <summary>A cluster with nodes node1…nodeN, each with pods default/pod{n}a, pod{n}b, ….</summary>
    public static Cluster NewCluster(int nodes = 0, int podsPerNode = 0, ClusterOptions? options = null)
    {
        RequireRoot();
        var cluster = Cluster.Create(options ?? new ClusterOptions { Prefix = Prefix });
        try
        {
            for (int n = 1; n <= nodes; n++)
            {
                var node = cluster.AddNode($"node{n}");
                for (int p = 0; p < podsPerNode; p++) node.AddPod("default", $"pod{n}{(char)('a' + p)}");
            }
            return cluster;
        }
        catch
        {
            cluster.Dispose();
            throw;
        }
    }

    public static string[] NetnsNames() => Directory.Exists("/var/run/netns") ? Directory.GetFiles("/var/run/netns").Select(Path.GetFileName).OfType<string>().ToArray() : [];

    /// <summary>Interface names in the test process's own (host) namespace.</summary>
    public static string[] HostLinks() =>
        File.ReadAllLines("/proc/self/net/dev").Skip(2).Select(l => l.Split(':')[0].Trim()).Order().ToArray();

    /// <summary>Interface names in the namespace an fd refers to (works after the name is gone), via /proc/thread-self/net/dev.</summary>
    public static string[] LinksIn(Microsoft.Win32.SafeHandles.SafeFileHandle netnsFd)
    {
        string[] result = [];
        Exception? error = null;
        var t = new Thread(() =>
        {
            try
            {
                using var home = File.OpenHandle("/proc/thread-self/ns/net");
                if (Native.setns((int)netnsFd.DangerousGetHandle(), Native.CLONE_NEWNET) != 0) throw new IOException("setns failed");
                result = File.ReadAllLines("/proc/thread-self/net/dev").Skip(2).Select(l => l.Split(':')[0].Trim()).Order().ToArray();
                Native.setns((int)home.DangerousGetHandle(), Native.CLONE_NEWNET);
            }
            catch (Exception e) { error = e; }
        });
        t.Start();
        t.Join();
        return error is null ? result : throw error;
    }

    public static bool ProcessAlive(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var state = stat[(stat.LastIndexOf(')') + 2)..][0];
            return state is not ('Z' or 'X');
        }
        catch (IOException) { return false; }
    }
}

/// <summary>A TCP server inside a namespace: answers every connection with "{tag} saw {client ip}: {request}".</summary>
internal sealed class TagServer : IAsyncDisposable
{
    private readonly Socket _listener;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;

    public TagServer(NetworkNamespace ns, IPEndPoint bind, string tag)
    {
        Tag = tag;
        _listener = ns.CreateSocket(bind, listen: true);
        _loop = Task.Run(AcceptLoop);
    }

    public string Tag { get; }

    private async Task AcceptLoop()
    {
        try
        {
            while (true)
            {
                var s = await _listener.AcceptAsync(_stop.Token);
                _ = Task.Run(async () =>
                {
                    using (s)
                    {
                        var request = await Wire.ReadToEndAsync(s, _stop.Token);
                        var remote = ((IPEndPoint)s.RemoteEndPoint!).Address;
                        await s.SendAsync(Encoding.UTF8.GetBytes($"{Tag} saw {remote}: {request}"), SocketFlags.None, _stop.Token);
                        s.Shutdown(SocketShutdown.Both);
                    }
                });
            }
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException) { }
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _listener.Dispose();
        await _loop;
    }
}

internal static class Wire
{
    /// <summary>Connects from a socket created in <paramref name="from"/>, sends, half-closes, returns the whole reply.</summary>
    public static async Task<string> SendAsync(NetworkNamespace from, IPEndPoint to, string message)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        using var s = from.CreateSocket();
        await s.ConnectAsync(to, cts.Token);
        await s.SendAsync(Encoding.UTF8.GetBytes(message), SocketFlags.None, cts.Token);
        s.Shutdown(SocketShutdown.Send);
        return await ReadToEndAsync(s, cts.Token);
    }

    public static async Task<string> ReadToEndAsync(Socket s, CancellationToken ct)
    {
        var buffer = new byte[4096];
        var ms = new MemoryStream();
        int n;
        while ((n = await s.ReceiveAsync(buffer, SocketFlags.None, ct)) > 0) ms.Write(buffer, 0, n);
        return Encoding.UTF8.GetString(ms.ToArray());
    }
}

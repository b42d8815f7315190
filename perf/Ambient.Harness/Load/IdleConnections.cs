using System.Net;
using System.Net.Sockets;
using Ambient.Harness.Beds;
using Ambient.Harness.Measure;

namespace Ambient.Harness.Load;

/// <summary>
/// Memory per idle connection: opens N connections through the path to the server pod's sink, waits until the sink
/// holds all N (so each crossed both proxies), and divides the proxies' RSS growth by N. Kernel socket buffers are
/// not in RSS and are the same for every configuration.
/// </summary>
public static class IdleConnections
{
    public sealed record Result(int Requested, int Arrived, long RssBefore, long RssAfter)
    {
        public double BytesPerConnection => Arrived == 0 ? double.NaN : (double)(RssAfter - RssBefore) / Arrived;
    }

    private const int ConnectConcurrency = 128;

    public static async Task<Result> RunAsync(PodSockets sockets, IPEndPoint target, ConnectionSink sink, int count, IReadOnlyList<int> proxyPids, CancellationToken cancel)
    {
        sink.Release();
        long before = ProcessStats.RssBytes(proxyPids);
        var open = new List<Socket>(count);
        try
        {
            using var gate = new SemaphoreSlim(ConnectConcurrency);
            var connects = new List<Task>(count);
            for (int i = 0; i < count; i++)
            {
                await gate.WaitAsync(cancel);
                var s = sockets.Take();
                open.Add(s);
                connects.Add(ConnectAsync(s, target, gate, cancel));
            }
            await Task.WhenAll(connects);
            // The far side connects after the near side accepted — for HAProxy-TLS after a full handshake each, and a
            // burst of SYNs may wait for retransmission: wait for the sink to see them all, or to stop growing for 5 s.
            int last = -1;
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(90);
            var lastGrowth = DateTime.UtcNow;
            while (sink.Count < count && DateTime.UtcNow < deadline && DateTime.UtcNow - lastGrowth < TimeSpan.FromSeconds(5))
            {
                if (sink.Count != last) (last, lastGrowth) = (sink.Count, DateTime.UtcNow);
                await Task.Delay(250, cancel);
            }
            await Task.Delay(1000, cancel); // let allocations settle before reading RSS
            return new Result(count, sink.Count, before, ProcessStats.RssBytes(proxyPids));
        }
        finally
        {
            foreach (var s in open) s.Dispose();
            sink.Release();
            await Task.Delay(1000, CancellationToken.None); // let the proxies tear their side down before the next test
        }
    }

    private static async Task ConnectAsync(Socket socket, IPEndPoint target, SemaphoreSlim gate, CancellationToken cancel)
    {
        try { await socket.ConnectAsync(target, cancel); }
        catch (SocketException) { } // counted by its absence at the sink
        finally { gate.Release(); }
    }
}

using System.Buffers.Binary;
using System.Diagnostics;
using System.Net.Sockets;

namespace Ambient.Throughput;

/// <summary>What one measurement cost the whole process (client, sink and, for the mesh path, both daemons).</summary>
internal readonly record struct Cost(double WallSeconds, double CpuSeconds, double OthersCpuSeconds, long AllocatedBytes, int Gen0, int Gen1, int Gen2)
{
    public static async Task<Cost> MeasureAsync(Func<Task> run)
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        var process = Process.GetCurrentProcess();
        var cpu0 = process.TotalProcessorTime;
        double machine0 = MachineCpu.BusySeconds();
        long alloc0 = GC.GetTotalAllocatedBytes(precise: true);
        int g0 = GC.CollectionCount(0), g1 = GC.CollectionCount(1), g2 = GC.CollectionCount(2);
        long t0 = Stopwatch.GetTimestamp();
        await run().ConfigureAwait(false);
        double wall = Stopwatch.GetElapsedTime(t0).TotalSeconds;
        process.Refresh();
        double ours = (process.TotalProcessorTime - cpu0).TotalSeconds;
        double others = Math.Max(0, MachineCpu.BusySeconds() - machine0 - ours);
        return new Cost(wall, ours, others,
            GC.GetTotalAllocatedBytes(precise: true) - alloc0,
            GC.CollectionCount(0) - g0, GC.CollectionCount(1) - g1, GC.CollectionCount(2) - g2);
    }
}

internal sealed record ThroughputResult(long Bytes, double Seconds)
{
    public double MegabytesPerSecond => Bytes / Seconds / 1e6;
}

/// <summary>Per-operation latency percentiles (computed at once: the sample buffer is reused) and the rate.</summary>
internal sealed record LatencyResult(int Count, double Seconds, double P50Microseconds, double P99Microseconds)
{
    public double PerSecond => Count / Seconds;

    public static LatencyResult From(long[] samples, int count, double seconds)
    {
        var sorted = samples.AsSpan(0, count);
        sorted.Sort();
        return new LatencyResult(count, seconds, Percentile(sorted, 50), Percentile(sorted, 99));
    }

    private static double Percentile(Span<long> sorted, double p)
    {
        if (sorted.IsEmpty)
            return double.NaN;
        int index = Math.Clamp((int)Math.Ceiling(p / 100 * sorted.Length) - 1, 0, sorted.Length - 1);
        return sorted[index] * 1e6 / Stopwatch.Frequency;
    }
}

internal static class Scenarios
{
    private const int ChunkSize = 64 * 1024;
    public const int MessageSize = 1024;

    /// <summary>
    /// Each of <paramref name="streams"/> connections sends as fast as it can for the duration, then half-closes
    /// and waits for the sink's count of bytes received: what is counted has reached the application, and the
    /// time includes draining whatever the path buffered.
    /// </summary>
    public static async Task<ThroughputResult> ThroughputAsync(ClientPath path, int streams, TimeSpan duration, CancellationToken ct)
    {
        var sockets = new Socket[streams];
        try
        {
            for (int i = 0; i < streams; i++)
            {
                sockets[i] = await path.ConnectAsync(ct).ConfigureAwait(false);
                await Net.SendAllAsync(sockets[i], new[] { Sink.Discard }, ct).ConfigureAwait(false);
            }
            var chunk = new byte[ChunkSize];
            Random.Shared.NextBytes(chunk);
            long start = Stopwatch.GetTimestamp();
            long deadline = start + (long)(duration.TotalSeconds * Stopwatch.Frequency);
            var tasks = sockets.Select(s => Task.Run(() => SendUntilAsync(s, chunk, deadline, ct), ct)).ToArray();
            var counts = await Task.WhenAll(tasks).ConfigureAwait(false);
            double seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
            return new ThroughputResult(counts.Sum(), seconds);
        }
        finally
        {
            foreach (var s in sockets)
                s?.Dispose();
        }
    }

    private static async Task<long> SendUntilAsync(Socket socket, byte[] chunk, long deadline, CancellationToken ct)
    {
        while (Stopwatch.GetTimestamp() < deadline)
            await Net.SendAllAsync(socket, chunk, ct).ConfigureAwait(false);
        socket.Shutdown(SocketShutdown.Send);
        var count = new byte[8];
        await Net.ReceiveExactlyAsync(socket, count, ct).ConfigureAwait(false);
        return BinaryPrimitives.ReadInt64LittleEndian(count);
    }

    /// <summary>1 KB request, 1 KB echo, over one connection, one at a time, for the duration.</summary>
    public static async Task<LatencyResult> PingPongAsync(ClientPath path, TimeSpan duration, long[] samples, CancellationToken ct)
    {
        using var socket = await path.ConnectAsync(ct).ConfigureAwait(false);
        await Net.SendAllAsync(socket, new[] { Sink.Echo }, ct).ConfigureAwait(false);
        var request = new byte[MessageSize];
        var response = new byte[MessageSize];
        Random.Shared.NextBytes(request);
        int count = 0;
        long start = Stopwatch.GetTimestamp();
        long deadline = start + (long)(duration.TotalSeconds * Stopwatch.Frequency);
        long now = start;
        while (now < deadline && count < samples.Length)
        {
            await Net.SendAllAsync(socket, request, ct).ConfigureAwait(false);
            await Net.ReceiveExactlyAsync(socket, response, ct).ConfigureAwait(false);
            long end = Stopwatch.GetTimestamp();
            samples[count++] = end - now;
            now = end;
        }
        if (!response.AsSpan().SequenceEqual(request))
            throw new IOException("echo returned different bytes");
        socket.Shutdown(SocketShutdown.Send);
        return LatencyResult.From(samples, count, Stopwatch.GetElapsedTime(start).TotalSeconds);
    }

    /// <summary>
    /// Short connections one after another: connect (for the mesh: SOCKS5 handshake, which answers only once
    /// the HBONE stream is open and daemon B has dialled the sink), a 1-byte request and answer, the sink's close.
    /// </summary>
    public static async Task<LatencyResult> ConnectAsync(ClientPath path, TimeSpan duration, long[] samples, CancellationToken ct)
    {
        var request = new[] { Sink.Close };
        var response = new byte[16];
        int count = 0;
        long start = Stopwatch.GetTimestamp();
        long deadline = start + (long)(duration.TotalSeconds * Stopwatch.Frequency);
        long now = start;
        while (now < deadline && count < samples.Length)
        {
            using (var socket = await path.ConnectAsync(ct).ConfigureAwait(false))
            {
                await Net.SendAllAsync(socket, request, ct).ConfigureAwait(false);
                await Net.ReceiveExactlyAsync(socket, response.AsMemory(0, 1), ct).ConfigureAwait(false);
                if (await socket.ReceiveAsync(response, SocketFlags.None, ct).ConfigureAwait(false) != 0)
                    throw new IOException("expected the sink to close");
            }
            long end = Stopwatch.GetTimestamp();
            samples[count++] = end - now;
            now = end;
        }
        return LatencyResult.From(samples, count, Stopwatch.GetElapsedTime(start).TotalSeconds);
    }
}

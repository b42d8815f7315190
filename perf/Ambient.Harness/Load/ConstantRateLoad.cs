using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Threading.Channels;
using HdrHistogram;

namespace Ambient.Harness.Load;

/// <summary>
/// Constant-rate HTTP/1.1 keep-alive load (the same for every configuration): <see cref="Timetable"/> decides when
/// each request is due, a fixed set of connections sends them, one request in flight per connection, and each
/// latency is measured from the due time into an HdrHistogram. Requests due during the warm-up are not recorded.
/// </summary>
public static class ConstantRateLoad
{
    private const long HighestMicroseconds = 60_000_000;

    /// <summary>How long requests still queued at the end may take before they are reported as unfinished.</summary>
    private static readonly TimeSpan Drain = TimeSpan.FromSeconds(5);

    public static async Task<LatencyResult> RunAsync(PodSockets sockets, IPEndPoint target, int rate, int connections,
        TimeSpan warmUp, TimeSpan duration, CancellationToken cancel)
    {
        var opened = new List<Socket>();
        try
        {
            for (int i = 0; i < connections; i++)
            {
                var s = sockets.Take();
                opened.Add(s);
                await s.ConnectAsync(target, cancel);
            }
            var due = Channel.CreateUnbounded<long>(new UnboundedChannelOptions { SingleWriter = true });
            long start = Stopwatch.GetTimestamp() + Stopwatch.Frequency / 100;
            long measureFrom = start + Ticks(warmUp);
            long end = measureFrom + Ticks(duration);
            using var drainLimit = CancellationTokenSource.CreateLinkedTokenSource(cancel);
            var timetable = Timetable.Start(due.Writer, start, end, rate, cancel);
            var workers = opened.Select(s => Task.Run(() => WorkAsync(s, due.Reader, measureFrom, end, drainLimit.Token))).ToArray();
            await Task.Run(timetable.Join, cancel);
            drainLimit.CancelAfter(Drain);
            var results = await Task.WhenAll(workers);
            cancel.ThrowIfCancellationRequested();

            var histogram = NewHistogram();
            long completedInWindow = 0, completed = 0, all = 0, errors = 0, unfinished = 0;
            foreach (var r in results)
            {
                histogram.Add(r.Histogram);
                completed += r.Completed;
                all += r.All;
                completedInWindow += r.CompletedInWindow;
                errors += r.Errors;
            }
            // Still queued after the drain: record each as at least as late as now (a lower bound), and say so.
            long now = Stopwatch.GetTimestamp();
            while (due.Reader.TryRead(out long at))
            {
                unfinished++;
                if (at >= measureFrom) histogram.RecordValue(Math.Min(HighestMicroseconds, Microseconds(now - at)));
            }
            return new LatencyResult(rate, completedInWindow / duration.TotalSeconds, completed, all, errors, unfinished, histogram);
        }
        finally
        {
            foreach (var s in opened) s.Dispose();
        }
    }

    private sealed record WorkerResult(HistogramBase Histogram, long Completed, long CompletedInWindow, long All, long Errors);

    private static async Task<WorkerResult> WorkAsync(Socket socket, ChannelReader<long> due, long measureFrom, long end, CancellationToken cancel)
    {
        var histogram = NewHistogram();
        var reader = new ResponseReader(socket);
        long completed = 0, inWindow = 0, all = 0, errors = 0;
        try
        {
            while (await due.WaitToReadAsync(cancel))
            {
                if (!due.TryRead(out long at)) continue;
                try
                {
                    await socket.SendAsync(Http1.KeepAliveRequest, SocketFlags.None, cancel);
                    int status = await reader.ReadAsync(cancel);
                    if (status != 200) { errors++; continue; }
                }
                catch (Exception e) when (e is SocketException or IOException)
                {
                    // The connection is unusable; its share of the schedule goes to the other connections.
                    errors++;
                    break;
                }
                long done = Stopwatch.GetTimestamp();
                all++;
                if (at < measureFrom) continue;
                histogram.RecordValue(Math.Min(HighestMicroseconds, Microseconds(done - at)));
                completed++;
                if (done <= end) inWindow++;
            }
        }
        catch (OperationCanceledException) { } // drain time is up
        return new WorkerResult(histogram, completed, inWindow, all, errors);
    }

    private static LongHistogram NewHistogram() => new(1, HighestMicroseconds, 3);

    private static long Ticks(TimeSpan t) => (long)(t.TotalSeconds * Stopwatch.Frequency);

    private static long Microseconds(long ticks) => Math.Max(1, ticks * 1_000_000 / Stopwatch.Frequency);
}

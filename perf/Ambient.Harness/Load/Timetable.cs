using System.Diagnostics;
using System.Threading.Channels;

namespace Ambient.Harness.Load;

/// <summary>
/// The fixed schedule of a constant-rate test: request k is due at <c>start + k / rate</c>, whatever happened to
/// earlier requests. A dedicated thread releases each due time into a queue the connections take work from; a
/// connection that is behind finds requests waiting, and their latency counts from the time they were due — the
/// coordinated-omission correction (a stalled server cannot hide its stall by slowing the sender down).
/// </summary>
public static class Timetable
{
    /// <summary>Runs on a new thread until <paramref name="end"/> (Stopwatch ticks), then completes the writer.</summary>
    public static Thread Start(ChannelWriter<long> due, long start, long end, int rate, CancellationToken cancel)
    {
        var thread = new Thread(() => Release(due, start, end, rate, cancel)) { IsBackground = true, Name = "timetable" };
        thread.Start();
        return thread;
    }

    private static void Release(ChannelWriter<long> due, long start, long end, int rate, CancellationToken cancel)
    {
        double ticksPerRequest = (double)Stopwatch.Frequency / rate;
        double nanosecondsPerTick = 1e9 / Stopwatch.Frequency;
        try
        {
            for (long k = 0; !cancel.IsCancellationRequested; k++)
            {
                long at = start + (long)(k * ticksPerRequest);
                if (at >= end) break;
                long wait = at - Stopwatch.GetTimestamp();
                // Sleep precisely (nanosleep, ~50 µs slack); when behind, release at once so the schedule catches up.
                if (wait > 0) Native.SleepNanoseconds((long)(wait * nanosecondsPerTick));
                due.TryWrite(at);
            }
        }
        finally
        {
            due.TryComplete();
        }
    }
}

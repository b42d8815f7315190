using System.Runtime.InteropServices;

// The harness builds Linux network namespaces and reads /proc: it runs nowhere else.
[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]

namespace Ambient.Harness;

/// <summary>The few libc calls .NET does not expose.</summary>
internal static partial class Native
{
    private const int RLIMIT_NOFILE = 7;
    private const int CLOCK_MONOTONIC = 1;

    [StructLayout(LayoutKind.Sequential)]
    private struct RLimit { public ulong Current; public ulong Max; }

    [StructLayout(LayoutKind.Sequential)]
    private struct TimeSpec { public long Seconds; public long Nanoseconds; }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int getrlimit(int resource, out RLimit limit);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int setrlimit(int resource, in RLimit limit);

    [LibraryImport("libc")]
    private static partial int clock_nanosleep(int clock, int flags, in TimeSpec request, IntPtr remain);

    /// <summary>
    /// Raises this process's open-file limit (children — nginx, HAProxy, the daemons — inherit it): 10,000 idle
    /// connections need about 20,000 descriptors here and in each proxy. Returns the limit now in force.
    /// </summary>
    public static ulong RaiseOpenFileLimit(ulong wanted)
    {
        if (getrlimit(RLIMIT_NOFILE, out var limit) != 0) return 0;
        if (limit.Current >= wanted) return limit.Current;
        var raised = new RLimit { Current = wanted, Max = Math.Max(limit.Max, wanted) };
        if (setrlimit(RLIMIT_NOFILE, raised) == 0) return wanted;
        // Not root (or above fs.nr_open): take what the hard limit allows.
        raised = new RLimit { Current = limit.Max, Max = limit.Max };
        return setrlimit(RLIMIT_NOFILE, raised) == 0 ? limit.Max : limit.Current;
    }

    /// <summary>The open-file limit in force (soft), inherited by every process the harness starts.</summary>
    public static ulong OpenFileLimit() => getrlimit(RLIMIT_NOFILE, out var limit) == 0 ? limit.Current : 1024;

    /// <summary>
    /// Sleeps for a sub-millisecond interval. Task.Delay and Thread.Sleep round to whole milliseconds, which at
    /// 10,000 requests per second would put up to ten requests' worth of timer slop into every latency.
    /// </summary>
    public static void SleepNanoseconds(long nanoseconds)
    {
        if (nanoseconds <= 0) return;
        var t = new TimeSpec { Seconds = nanoseconds / 1_000_000_000, Nanoseconds = nanoseconds % 1_000_000_000 };
        clock_nanosleep(CLOCK_MONOTONIC, 0, t, IntPtr.Zero);
    }
}

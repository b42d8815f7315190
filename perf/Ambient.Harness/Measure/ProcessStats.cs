namespace Ambient.Harness.Measure;

/// <summary>CPU time and memory of running processes, read from /proc (the kernel's own accounting).</summary>
public static class ProcessStats
{
    // USER_HZ: /proc/<pid>/stat counts CPU time in clock ticks of 1/100 s on every Linux architecture .NET runs on.
    private const double TicksPerSecond = 100;

    /// <summary>utime + stime of all threads of the processes, in seconds.</summary>
    public static double CpuSeconds(IEnumerable<int> pids) => pids.Sum(CpuSeconds);

    public static double CpuSeconds(int pid)
    {
        var stat = File.ReadAllText($"/proc/{pid}/stat");
        // The command name (field 2) may contain spaces and parentheses: count fields after its closing ')'.
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return (long.Parse(fields[11]) + long.Parse(fields[12])) / TicksPerSecond; // utime, stime = fields 14, 15
    }

    /// <summary>Resident set size now, summed over the processes, in bytes.</summary>
    public static long RssBytes(IEnumerable<int> pids) => pids.Sum(p => StatusKilobytes(p, "VmRSS:") * 1024);

    /// <summary>Peak resident set size since start (VmHWM), summed over the processes, in bytes.</summary>
    public static long PeakRssBytes(IEnumerable<int> pids) => pids.Sum(p => StatusKilobytes(p, "VmHWM:") * 1024);

    private static long StatusKilobytes(int pid, string field)
    {
        foreach (var line in File.ReadLines($"/proc/{pid}/status"))
            if (line.StartsWith(field, StringComparison.Ordinal))
                return long.Parse(line[field.Length..].Trim().Split(' ')[0]);
        return 0;
    }
}

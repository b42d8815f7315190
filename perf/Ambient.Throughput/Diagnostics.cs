using System.Collections.Concurrent;
using System.Diagnostics.Tracing;

namespace Ambient.Throughput;

/// <summary>CPU time the whole machine spent busy, from /proc/stat (to tell how much other processes took).</summary>
internal static class MachineCpu
{
    /// <summary>Busy seconds summed over all cores since boot (user+nice+system+irq+softirq+steal), or NaN.</summary>
    public static double BusySeconds()
    {
        try
        {
            using var reader = new StreamReader("/proc/stat");
            var fields = reader.ReadLine()!.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            // cpu user nice system idle iowait irq softirq steal guest guest_nice (USER_HZ ticks)
            double busy = 0;
            for (int i = 1; i <= 8 && i < fields.Length; i++)
                if (i != 4 && i != 5)
                    busy += double.Parse(fields[i], System.Globalization.CultureInfo.InvariantCulture);
            return busy / 100.0;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException)
        {
            return double.NaN;
        }
    }

    /// <summary>
    /// Waits until the machine has been (nearly) idle for one second — less than 10% of one core busy — or
    /// <paramref name="limit"/> has passed. Returns the busy share of the last second (0..1 of all cores).
    /// </summary>
    public static async Task<double> WaitForIdleAsync(TimeSpan limit)
    {
        var until = DateTime.UtcNow + limit;
        double share;
        do
        {
            double before = BusySeconds();
            await Task.Delay(1000).ConfigureAwait(false);
            share = (BusySeconds() - before) / Environment.ProcessorCount;
            if (double.IsNaN(share))
                return share;
        }
        while (share * Environment.ProcessorCount > 0.1 && DateTime.UtcNow < until);
        return share;
    }
}

/// <summary>
/// Samples the runtime's GCAllocationTick events (one per ~100 KB allocated, naming the type that crossed the
/// threshold): a cheap, in-process view of which types the allocated bytes went to.
/// </summary>
internal sealed class AllocationSampler : EventListener
{
    private const int GCKeyword = 0x1;
    private readonly ConcurrentDictionary<string, long> _bytes = new();
    private static readonly int s_bytePoolId = System.Buffers.ArrayPool<byte>.Shared.GetHashCode();
    [ThreadStatic] private static bool t_inside; // formatting below rents from ArrayPool<char>, which raises events too
    private volatile bool _recording;

    protected override void OnEventSourceCreated(EventSource source)
    {
        if (source.Name == "Microsoft-Windows-DotNETRuntime")
            EnableEvents(source, EventLevel.Verbose, (EventKeywords)GCKeyword);
        else if (source.Name == "System.Buffers.ArrayPoolEventSource")
            EnableEvents(source, EventLevel.Informational);
    }

    protected override void OnEventWritten(EventWrittenEventArgs e)
    {
        if (!_recording || e.EventName is null || e.PayloadNames is null)
            return;
        // ArrayPool<byte>.Shared misses: a rent the pool could not serve allocates; a return it cannot keep is dropped.
        if (e.EventName is "BufferAllocated" or "BufferDropped")
        {
            if (t_inside || Convert.ToInt32(e.Payload![e.PayloadNames.IndexOf("poolId")]) != s_bytePoolId)
                return;
            t_inside = true;
            try
            {
            int size = Convert.ToInt32(e.Payload![e.PayloadNames.IndexOf("bufferSize")]);
            string what = e.EventName == "BufferDropped" ? "returns dropped" : "rents allocating";
            if (e.EventName == "BufferAllocated" && e.PayloadNames.IndexOf("reason") is int r and >= 0)
                what += $", {e.Payload[r]}";
            _bytes.AddOrUpdate($"ArrayPool {what} ({size} B) [count]", 1, (_, v) => v + 1);
            }
            finally
            {
                t_inside = false;
            }
            return;
        }
        if (!e.EventName.StartsWith("GCAllocationTick", StringComparison.Ordinal))
            return;
        int nameIndex = e.PayloadNames.IndexOf("TypeName");
        int amountIndex = e.PayloadNames.IndexOf("AllocationAmount64");
        if (nameIndex < 0)
            return;
        string type = e.Payload![nameIndex] as string ?? "?";
        int sizeIndex = e.PayloadNames.IndexOf("ObjectSize");
        if (sizeIndex >= 0 && type.EndsWith("[]", StringComparison.Ordinal))
            type += $" ({Convert.ToInt64(e.Payload[sizeIndex])} B)"; // arrays: the size says whose buffer it is
        long amount = amountIndex >= 0 ? Convert.ToInt64(e.Payload[amountIndex]) : 100_000;
        _bytes.AddOrUpdate(type, amount, (_, v) => v + amount);
    }

    public void Start()
    {
        _bytes.Clear();
        _recording = true;
    }

    public IReadOnlyList<(string Type, long Bytes)> Stop()
    {
        _recording = false;
        return [.. _bytes.Select(kv => (kv.Key, kv.Value)).OrderByDescending(x => x.Item2)];
    }
}

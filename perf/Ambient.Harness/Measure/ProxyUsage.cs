namespace Ambient.Harness.Measure;

/// <summary>
/// Follows the CPU time and resident memory of the proxy processes across one measurement: CPU as a difference,
/// memory as the highest RSS seen by a background sampler (VmHWM only ever grows, so it cannot isolate one test).
/// </summary>
public sealed class ProxyUsage : IAsyncDisposable
{
    private readonly IReadOnlyList<int> _pids;
    private readonly double _cpuAtStart;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _sampler;

    private ProxyUsage(IReadOnlyList<int> pids)
    {
        _pids = pids;
        _cpuAtStart = ProcessStats.CpuSeconds(pids);
        MaxRssBytes = pids.Count == 0 ? 0 : ProcessStats.RssBytes(pids);
        _sampler = pids.Count == 0 ? Task.CompletedTask : SampleAsync();
    }

    public static ProxyUsage Start(IReadOnlyList<int> pids) => new(pids);

    public long MaxRssBytes { get; private set; }

    /// <summary>CPU seconds the processes used since <see cref="Start"/>.</summary>
    public double CpuSeconds => ProcessStats.CpuSeconds(_pids) - _cpuAtStart;

    private async Task SampleAsync()
    {
        try
        {
            while (!_stop.IsCancellationRequested)
            {
                await Task.Delay(100, _stop.Token);
                MaxRssBytes = Math.Max(MaxRssBytes, ProcessStats.RssBytes(_pids));
            }
        }
        catch (OperationCanceledException) { }
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        await _sampler;
        _stop.Dispose();
    }
}

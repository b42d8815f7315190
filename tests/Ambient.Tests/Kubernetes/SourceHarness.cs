using Ambient.Config;
using Ambient.Discovery.Kubernetes;
using Ambient.Tests.Support;

namespace Ambient.Tests.Kubernetes;

/// <summary>A fake API server plus a running <see cref="KubernetesSource"/> publishing into a store, with short timings.</summary>
internal sealed class SourceHarness : IAsyncDisposable
{
    public static readonly TimeSpan DefaultWait = TimeSpan.FromSeconds(10);

    public static KubernetesSourceOptions FastOptions { get; } = new()
    {
        DebounceDelay = TimeSpan.FromMilliseconds(20),
        InitialBackoff = TimeSpan.FromMilliseconds(50),
        MaxBackoff = TimeSpan.FromMilliseconds(400),
        RequestTimeout = TimeSpan.FromSeconds(5),
    };

    private SourceHarness(FakeApiServer server, KubernetesSource source, ConfigStore store, LogCapture logs)
    {
        Server = server;
        Source = source;
        Store = store;
        Logs = logs;
    }

    public FakeApiServer Server { get; }
    public KubernetesSource Source { get; }
    public ConfigStore Store { get; }
    public LogCapture Logs { get; }

    public MeshSnapshot Snapshot => Store.Current;

    public static async Task<SourceHarness> StartAsync(Action<FakeApiServer>? seed = null, KubernetesSourceOptions? options = null, bool waitForSync = true)
    {
        var server = await FakeApiServer.StartAsync();
        seed?.Invoke(server);
        var store = new ConfigStore();
        var logs = new LogCapture();
        var source = KubernetesSource.Create(server.ClientConfiguration, store, logs.CreateLogger("kubernetes"), options ?? FastOptions);
        await source.StartAsync();
        var harness = new SourceHarness(server, source, store, logs);
        if (waitForSync) await source.WaitForInitialSyncAsync().WaitAsync(DefaultWait);
        return harness;
    }

    /// <summary>Waits (bounded) until the published snapshot satisfies <paramref name="condition"/>.</summary>
    public async Task<MeshSnapshot> WaitForAsync(Func<MeshSnapshot, bool> condition, string what, TimeSpan? timeout = null)
    {
        var until = DateTime.UtcNow + (timeout ?? DefaultWait);
        while (true)
        {
            var snapshot = Store.Current;
            if (condition(snapshot)) return snapshot;
            if (DateTime.UtcNow > until)
            {
                Assert.Fail($"timed out waiting for: {what}\nlast generation {snapshot.Generation}; log:\n" + string.Join("\n", Logs.Lines.TakeLast(40)));
            }
            await Task.Delay(10);
        }
    }

    /// <summary>Waits (bounded) for a condition on anything else (requests, status).</summary>
    public async Task WaitUntilAsync(Func<bool> condition, string what, TimeSpan? timeout = null)
    {
        var until = DateTime.UtcNow + (timeout ?? DefaultWait);
        while (!condition())
        {
            if (DateTime.UtcNow > until)
            {
                Assert.Fail($"timed out waiting for: {what}\nlog:\n" + string.Join("\n", Logs.Lines.TakeLast(40)));
            }
            await Task.Delay(10);
        }
    }

    public static Workload? WorkloadByName(MeshSnapshot snapshot, string ns, string name) =>
        snapshot.Config.Workloads.FirstOrDefault(w => w.Namespace == ns && w.Name == name);

    public async ValueTask DisposeAsync()
    {
        await Source.DisposeAsync();
        await Server.DisposeAsync();
    }
}

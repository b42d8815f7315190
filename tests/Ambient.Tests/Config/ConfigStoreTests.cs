using Ambient.Config;
using static Ambient.Tests.Config.ConfigTestHelpers;

namespace Ambient.Tests.Config;

public class ConfigStoreTests
{
    [Fact]
    public void Update_SwapsSnapshotAndRaisesChanged()
    {
        var store = new ConfigStore();
        Assert.Same(MeshSnapshot.Empty, store.Current);
        ConfigChangedEventArgs? seen = null;
        store.Changed += (_, e) => seen = e;

        var snapshot = store.Update(LoadOk(MinimalWorkload, generation: 1));

        Assert.Same(snapshot, store.Current);
        Assert.NotNull(seen);
        Assert.Same(MeshSnapshot.Empty, seen.Previous);
        Assert.Same(snapshot, seen.Current);
        Assert.Equal(1, store.Current.Generation);
    }

    [Fact]
    public void FailingHandler_DoesNotStopOthersOrThePublish()
    {
        var store = new ConfigStore();
        var secondCalled = false;
        store.Changed += (_, _) => throw new InvalidOperationException("boom");
        store.Changed += (_, _) => secondCalled = true;

        var snapshot = new MeshSnapshot(LoadOk(MinimalWorkload, generation: 2));
        var error = Assert.Throws<AggregateException>(() => store.Publish(snapshot));

        Assert.IsType<InvalidOperationException>(Assert.Single(error.InnerExceptions));
        Assert.True(secondCalled);
        Assert.Same(snapshot, store.Current);
    }

    [Fact]
    public async Task ConcurrentReaders_AlwaysSeeACompleteSnapshot()
    {
        var store = new ConfigStore();
        var configs = Enumerable.Range(1, 50).Select(i => LoadOk(MinimalWorkload, generation: i)).ToArray();
        using var stop = new CancellationTokenSource();
        var reader = Task.Run(() =>
        {
            long last = 0;
            while (!stop.IsCancellationRequested)
            {
                var current = store.Current;
                Assert.True(current.Generation >= last);
                last = current.Generation;
                if (current.Generation > 0) Assert.NotNull(current.WorkloadByUid("default/sleep"));
            }
        });
        foreach (var config in configs) store.Update(config);
        await stop.CancelAsync();
        await reader;
        Assert.Equal(50, store.Current.Generation);
    }
}

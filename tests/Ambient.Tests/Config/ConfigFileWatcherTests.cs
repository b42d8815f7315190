using Ambient.Config;
using Microsoft.Extensions.Logging;
using static Ambient.Tests.Config.ConfigTestHelpers;

namespace Ambient.Tests.Config;

public sealed class ConfigFileWatcherTests : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(5);

    private const string OneWorkload = """
        workloads:
          - name: sleep
            namespace: default
            addresses: [10.0.0.1]
        """;

    private const string TwoWorkloads = """
        workloads:
          - name: sleep
            namespace: default
            addresses: [10.0.0.1]
          - name: echo
            namespace: default
            addresses: [10.0.0.2]
        """;

    /// <summary>A file-level error (unclosed flow list at the top): the whole file is rejected.</summary>
    private const string BrokenFile = """
        workloads: [
          {name: sleep, namespace: default, addresses: [10.0.0.1]}
        """;

    /// <summary>Two errors in one object (workloads[1]): that object alone is rejected.</summary>
    private const string BadEdit = """
        workloads:
          - name: sleep
            namespace: default
            addresses: [10.0.0.1]
          - name: echo
            namespace: default
            addresses: [10.0.0.300]
            protocl: TCP
        """;

    private readonly string _dir = Directory.CreateTempSubdirectory("ambient-config-test-").FullName;
    private readonly ListLogger _logger = new();
    private readonly ConfigStore _store = new();

    private string ConfigPath => Path.Combine(_dir, "ambient.yaml");

    public void Dispose()
    {
        try
        {
            Directory.Delete(_dir, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private ConfigFileWatcher CreateWatcher(bool useFileSystemWatcher = true, TimeSpan? poll = null) =>
        new(ConfigPath, _store, _logger, new ConfigFileWatcherOptions
        {
            Debounce = TimeSpan.FromMilliseconds(50),
            PollInterval = poll ?? TimeSpan.FromMinutes(10), // effectively off unless a test wants it
            UseFileSystemWatcher = useFileSystemWatcher,
        });

    /// <summary>Completes when the store reaches <paramref name="generation"/>.</summary>
    private Task WaitForGeneration(long generation)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _store.Changed += (_, e) =>
        {
            if (e.Current.Generation >= generation) done.TrySetResult();
        };
        if (_store.Current.Generation >= generation) done.TrySetResult();
        return done.Task.WaitAsync(Timeout);
    }

    /// <summary>What careful editors do: write a temp file, then rename it over the config.</summary>
    private async Task ReplaceAtomically(string content)
    {
        var temp = Path.Combine(_dir, ".ambient.yaml." + Guid.NewGuid().ToString("N")[..8] + ".tmp");
        await System.IO.File.WriteAllTextAsync(temp, content);
        System.IO.File.Move(temp, ConfigPath, overwrite: true);
    }

    private static Task<ConfigLoadResult> WaitForRejection(ConfigFileWatcher watcher)
    {
        var done = new TaskCompletionSource<ConfigLoadResult>(TaskCreationOptions.RunContinuationsAsynchronously);
        watcher.Reloaded += (_, result) =>
        {
            if (!result.Ok) done.TrySetResult(result);
        };
        return done.Task.WaitAsync(Timeout);
    }

    [Fact]
    public void Start_LoadsTheFileAndLogsCounts()
    {
        System.IO.File.WriteAllText(ConfigPath, OneWorkload);
        using var watcher = CreateWatcher();

        var result = watcher.Start();

        Assert.True(result.Ok);
        Assert.Equal(1, _store.Current.Generation);
        Assert.Equal(ConfigPath, _store.Current.Config.Source);
        Assert.NotNull(_store.Current.WorkloadByUid("default/sleep"));
        var loaded = Assert.Single(_logger.Entries, e => e.EventId.Id == 1001);
        Assert.Equal(LogLevel.Information, loaded.Level);
        Assert.Equal(1L, loaded.State["Generation"]);
        Assert.Equal(1, loaded.State["WorkloadCount"]);
        Assert.Equal(0, loaded.State["ServiceCount"]);
    }

    [Fact]
    public async Task Write_TriggersReload()
    {
        System.IO.File.WriteAllText(ConfigPath, OneWorkload);
        using var watcher = CreateWatcher();
        watcher.Start();
        var reloaded = WaitForGeneration(2);

        await System.IO.File.WriteAllTextAsync(ConfigPath, TwoWorkloads);

        await reloaded;
        Assert.Equal(2, _store.Current.Config.Workloads.Length);
        Assert.NotNull(_store.Current.WorkloadByUid("default/echo"));
    }

    [Fact]
    public async Task BrokenFile_KeepsLastGoodSnapshot_AndLogsTheError()
    {
        System.IO.File.WriteAllText(ConfigPath, OneWorkload);
        using var watcher = CreateWatcher();
        watcher.Start();
        var good = _store.Current;
        var rejected = WaitForRejection(watcher);

        // Atomic replace, so the watcher cannot observe a half-written (e.g. truncated) file.
        await ReplaceAtomically(BrokenFile);

        var result = await rejected;
        Assert.Null(result.Config);
        Assert.Same(good, _store.Current);
        Assert.Same(result, watcher.LastResult);
        var warning = Assert.Single(_logger.Entries, e => e.EventId.Id == 1002);
        Assert.Equal(LogLevel.Warning, warning.Level);
        Assert.Equal(ConfigPath, warning.State["File"]);
        Assert.Contains("YAML syntax error", (string)warning.State["ErrorMessage"]!);
        Assert.Single(_logger.Entries, e => e.EventId.Id == 1003);
    }

    [Fact]
    public async Task BadObject_IsRejectedAlone_AndTheRestApplies()
    {
        System.IO.File.WriteAllText(ConfigPath, OneWorkload);
        using var watcher = CreateWatcher();
        watcher.Start();
        var applied = WaitForGeneration(2);

        await ReplaceAtomically(BadEdit);

        await applied;
        var result = watcher.LastResult!;
        Assert.Equal(["workloads[1]"], result.Config!.RejectedObjects.ToArray());
        Assert.NotNull(_store.Current.WorkloadByUid("default/sleep"));
        Assert.Null(_store.Current.WorkloadByUid("default/echo"));

        var warnings = _logger.Entries.Where(e => e.EventId.Id == 1002).ToArray();
        Assert.Equal(2, warnings.Length);
        Assert.Equal((7, 17, "workloads[1].addresses[0]"), ((int)warnings[0].State["Line"]!, (int)warnings[0].State["Column"]!, (string)warnings[0].State["Field"]!));
        Assert.Equal("workloads[1].protocl", warnings[1].State["Field"]);
        var summary = Assert.Single(_logger.Entries, e => e.EventId.Id == 1007);
        Assert.Equal("workloads[1]", summary.State["RejectedObjects"]);
    }

    [Fact]
    public void TryReload_AppliesOnlyChangedContent()
    {
        System.IO.File.WriteAllText(ConfigPath, OneWorkload);
        using var watcher = CreateWatcher(useFileSystemWatcher: false);

        Assert.Equal(ReloadStatus.Applied, watcher.TryReload());
        Assert.Equal(ReloadStatus.Unchanged, watcher.TryReload());
        Assert.Equal(1, _store.Current.Generation);

        System.IO.File.WriteAllText(ConfigPath, BrokenFile);
        Assert.Equal(ReloadStatus.Rejected, watcher.TryReload());
        Assert.Equal(ReloadStatus.Unchanged, watcher.TryReload()); // the same bad content is not re-reported
        Assert.Equal(1, _store.Current.Generation);
        Assert.Single(_logger.Entries, e => e.EventId.Id == 1003);

        System.IO.File.WriteAllText(ConfigPath, TwoWorkloads);
        Assert.Equal(ReloadStatus.Applied, watcher.TryReload());
        Assert.Equal(2, _store.Current.Generation);
    }

    [Fact]
    public void MissingFile_KeepsLastGood_ThenRecovers()
    {
        System.IO.File.WriteAllText(ConfigPath, OneWorkload);
        using var watcher = CreateWatcher(useFileSystemWatcher: false);
        Assert.Equal(ReloadStatus.Applied, watcher.TryReload());

        System.IO.File.Delete(ConfigPath);
        Assert.Equal(ReloadStatus.Rejected, watcher.TryReload());
        var error = Assert.Single(watcher.LastResult!.Errors);
        Assert.StartsWith("cannot read config file", error.Message);
        Assert.Equal(ReloadStatus.Unchanged, watcher.TryReload());
        Assert.Equal(1, _store.Current.Generation);
        Assert.NotNull(_store.Current.WorkloadByUid("default/sleep"));

        System.IO.File.WriteAllText(ConfigPath, OneWorkload);
        Assert.Equal(ReloadStatus.Applied, watcher.TryReload());
        Assert.Equal(2, _store.Current.Generation);
    }

    [Fact]
    public async Task Start_WithMissingFile_PicksItUpWhenCreated()
    {
        using var watcher = CreateWatcher();
        var initial = watcher.Start();
        Assert.False(initial.Ok);
        Assert.Same(MeshSnapshot.Empty, _store.Current);
        var reloaded = WaitForGeneration(1);

        await System.IO.File.WriteAllTextAsync(ConfigPath, OneWorkload);

        await reloaded;
        Assert.NotNull(_store.Current.WorkloadByUid("default/sleep"));
    }
}

using Ambient.Config;
using Microsoft.Extensions.Logging;

namespace Ambient.Tests.Config;

internal static class ConfigTestHelpers
{
    public const string SourceName = "ambient.yaml";

    public static ConfigLoadResult Load(string yaml, long generation = 1) => ConfigLoader.LoadText(yaml, SourceName, generation);

    public static MeshConfig LoadOk(string yaml, long generation = 1)
    {
        var result = Load(yaml, generation);
        Assert.True(result.Ok, "expected no errors, got:\n" + string.Join("\n", result.Errors));
        return result.Config!;
    }

    /// <summary>
    /// Asserts exactly one error and that it rejected what it should: its object alone (the rest of the config
    /// applies), or the whole file for file-level errors. Returns the error.
    /// </summary>
    public static ConfigError SingleError(string yaml)
    {
        var result = Load(yaml);
        Assert.False(result.Ok);
        var error = Assert.Single(result.Errors);
        AssertRejectedAlone(result);
        return error;
    }

    /// <summary>Every error's object is in <see cref="MeshConfig.RejectedObjects"/>; file-level errors leave no config.</summary>
    public static void AssertRejectedAlone(ConfigLoadResult result)
    {
        var objects = result.Errors.Select(e => e.ObjectPath).Distinct().ToArray();
        if (objects.Any(o => !System.Text.RegularExpressions.Regex.IsMatch(o, @"^(workloads|services|authorizationPolicies|peerAuthentications)\[\d+\]$")))
        {
            Assert.Null(result.Config);
            return;
        }
        Assert.True(result.Config is not null, "expected the valid rest to apply despite:\n" + string.Join("\n", result.Errors));
        foreach (var o in objects) Assert.Contains(o, result.Config.RejectedObjects);
    }

    public static void AssertError(ConfigError error, int line, int column, string fieldPath, string message)
    {
        Assert.Equal(
            (SourceName, line, column, fieldPath, message),
            (error.File, error.Line, error.Column, error.FieldPath, error.Message));
    }

    public static void AssertSingleError(string yaml, int line, int column, string fieldPath, string message) =>
        AssertError(SingleError(yaml), line, column, fieldPath, message);

    /// <summary>The repository root (the directory holding Ambient.sln).</summary>
    public static string RepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (System.IO.File.Exists(Path.Combine(dir.FullName, "Ambient.sln"))) return dir.FullName;
        }
        throw new InvalidOperationException("Ambient.sln not found above " + AppContext.BaseDirectory);
    }

    /// <summary>Minimal valid workload + service, for tests that add one broken thing.</summary>
    public const string MinimalWorkload = """
        workloads:
          - name: sleep
            namespace: default
            addresses: [10.0.0.1]
        """;
}

/// <summary>Captures log entries with their structured state.</summary>
internal sealed class ListLogger : ILogger
{
    private readonly Lock _lock = new();
    private readonly List<LogEntry> _entries = [];

    public IReadOnlyList<LogEntry> Entries
    {
        get { lock (_lock) return [.. _entries]; }
    }

    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        var values = state as IReadOnlyList<KeyValuePair<string, object?>> ?? [];
        var entry = new LogEntry(logLevel, eventId, formatter(state, exception), values.ToDictionary(kv => kv.Key, kv => kv.Value));
        lock (_lock) _entries.Add(entry);
    }
}

internal sealed record LogEntry(LogLevel Level, EventId EventId, string Message, Dictionary<string, object?> State);

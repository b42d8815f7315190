using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Xunit.Abstractions;

namespace Ambient.Tests.Interop;

/// <summary>An <see cref="ILogger"/> that writes to the test's output and keeps the lines for assertions.</summary>
public sealed class TestLog(ITestOutputHelper output, string category = "") : ILogger
{
    public ConcurrentQueue<string> Lines { get; } = new();

    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Debug;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        var line = $"{DateTime.UtcNow:HH:mm:ss.fff} {logLevel,-11} {category} {formatter(state, exception)}"
                   + (exception is null ? "" : $" | {exception.GetType().Name}: {exception.Message}");
        Lines.Enqueue(line);
        WriteLine(line);
    }

    /// <summary>Writes to the test output; ignored once the test has finished (late background lines).</summary>
    public void WriteLine(string line)
    {
        try { output.WriteLine(line); }
        catch (InvalidOperationException) { }
    }
}

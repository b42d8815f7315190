namespace Ambient.Cni;

internal enum PluginLogLevel { Debug, Info, Warn, Error }

/// <summary>
/// Log lines on stderr (the spec leaves stderr to plugins for unstructured output; runtimes put it in their own
/// logs). One line each: <c>ambient-cni: level=warn cmd=ADD container=0123456789ab pod=ns/name: message</c>.
/// </summary>
internal sealed class PluginLog(TextWriter writer, PluginLogLevel minimum)
{
    private string _context = "";

    public PluginLogLevel Minimum { get; set; } = minimum;

    /// <summary>What every following line is about (command, container, pod).</summary>
    public void SetContext(string context) => _context = context.Length == 0 ? "" : " " + context;

    public void Debug(string message) => Write(PluginLogLevel.Debug, message);
    public void Info(string message) => Write(PluginLogLevel.Info, message);
    public void Warn(string message) => Write(PluginLogLevel.Warn, message);
    public void Error(string message) => Write(PluginLogLevel.Error, message);

    private void Write(PluginLogLevel level, string message)
    {
        if (level < Minimum) return;
        try
        {
            writer.WriteLine($"ambient-cni: level={Name(level)}{_context}: {message}");
            writer.Flush();
        }
        catch (IOException) { } // a closed stderr must not turn a result into a failure
        catch (ObjectDisposedException) { }
    }

    public static string Name(PluginLogLevel level) => level switch
    {
        PluginLogLevel.Debug => "debug",
        PluginLogLevel.Info => "info",
        PluginLogLevel.Warn => "warn",
        _ => "error",
    };

    public static bool TryParse(string value, out PluginLogLevel level)
    {
        switch (value.ToLowerInvariant())
        {
            case "debug": level = PluginLogLevel.Debug; return true;
            case "info": level = PluginLogLevel.Info; return true;
            case "warn" or "warning": level = PluginLogLevel.Warn; return true;
            case "error": level = PluginLogLevel.Error; return true;
            default: level = PluginLogLevel.Info; return false;
        }
    }
}

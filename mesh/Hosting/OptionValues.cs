using System.Globalization;
using System.Net;

namespace Ambient.Hosting;

/// <summary>
/// The command-line value rules every Ambient program shares, each failing with an <see cref="ArgumentException"/>
/// that names the option and what it wants.
/// </summary>
public static class OptionValues
{
    /// <summary>The value after option <c>args[i]</c> (advancing <paramref name="i"/>); an option name is not a value.</summary>
    public static string Next(string[] args, ref int i)
    {
        if (i + 1 >= args.Length || args[i + 1].StartsWith("--", StringComparison.Ordinal))
            throw new ArgumentException($"{args[i]} needs a value");
        return args[++i];
    }

    /// <summary><c>ADDRESS:PORT</c>, or <c>off</c> for null.</summary>
    public static IPEndPoint? EndpointOrOff(string option, string value) =>
        value == "off" ? null
        : IPEndPoint.TryParse(value, out var endpoint) && endpoint.Port != 0 ? endpoint
        : throw new ArgumentException($"{option} '{value}' is not ADDRESS:PORT or off");

    public static TimeSpan Seconds(string option, string value, double max = 3600) =>
        double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var seconds) && seconds >= 0 && seconds <= max
            ? TimeSpan.FromSeconds(seconds)
            : throw new ArgumentException($"{option} '{value}' is not a number of seconds (0-{max})");

    public static string NamespacedName(string option, string value) =>
        value.Split('/') is [{ Length: > 0 }, { Length: > 0 }] ? value : throw new ArgumentException($"{option} '{value}' must be NAMESPACE/NAME");

    public static string LogLevel(string value)
    {
        var level = value.ToLowerInvariant();
        return Ambient.Observability.LogLevelSwitch.TryParse(level, out _) ? level
            : throw new ArgumentException($"--log-level '{value}' is not one of trace, debug, info, warn, error");
    }

    public static string LogFormat(string value)
    {
        var format = value.ToLowerInvariant();
        return format is "json" or "text" ? format : throw new ArgumentException($"--log-format '{value}' is not json or text");
    }
}

namespace Ambient.Cni;

/// <summary>The CNI spec versions this plugin speaks, and which commands each allows.</summary>
internal static class CniVersions
{
    /// <summary>The version of this plugin's own outputs that are not tied to a configuration (VERSION, early errors).</summary>
    public const string Current = "1.1.0";

    /// <summary>
    /// Every version from the first with chaining and <c>prevResult</c> (0.3.0) on. 0.1.0/0.2.0 predate chaining, so a
    /// chained plugin cannot work under them.
    /// </summary>
    public static readonly IReadOnlyList<string> Supported = ["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"];

    public static bool IsSupported(string version) => Supported.Contains(version, StringComparer.Ordinal);

    /// <summary>CHECK exists from 0.4.0 on.</summary>
    public static bool AllowsCheck(string version) => AtLeast(version, "0.4.0");

    /// <summary>STATUS and GC exist from 1.1.0 on.</summary>
    public static bool AllowsStatusAndGc(string version) => AtLeast(version, "1.1.0");

    private static bool AtLeast(string version, string minimum) =>
        System.Version.TryParse(version, out var v) && v >= System.Version.Parse(minimum);
}

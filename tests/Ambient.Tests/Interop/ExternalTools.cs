using System.Net;
using System.Net.Sockets;

namespace Ambient.Tests.Interop;

/// <summary>Finds the external programs and files the interop tests use.</summary>
public static class ExternalTools
{
    // PATH first; Debian puts nghttpx in /usr/sbin, which a non-root PATH may lack.
    private static readonly string[] ExtraDirectories = ["/usr/sbin", "/usr/local/sbin", "/usr/local/bin", "/usr/bin"];

    public static readonly Lazy<string?> Nghttpx = new(() => Locate("nghttpx", "AMBIENT_NGHTTPX"));
    public static readonly Lazy<string?> Node = new(() => Locate("node", "AMBIENT_NODE"));

    /// <summary>The executable's full path, or null when it is not installed. <paramref name="overrideVariable"/> may name it explicitly.</summary>
    public static string? Locate(string name, string overrideVariable)
    {
        if (Environment.GetEnvironmentVariable(overrideVariable) is { Length: > 0 } explicitPath)
            return File.Exists(explicitPath) ? explicitPath : null;
        var path = Environment.GetEnvironmentVariable("PATH") ?? "";
        foreach (var dir in path.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries).Concat(ExtraDirectories))
        {
            var candidate = Path.Combine(dir, name);
            if (File.Exists(candidate))
                return candidate;
        }
        return null;
    }

    /// <summary>The checkout root (the folder holding Ambient.sln), found by walking up from the test binaries.</summary>
    public static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Ambient.sln")))
                return dir.FullName;
        }
        throw new DirectoryNotFoundException($"no Ambient.sln above {AppContext.BaseDirectory}");
    }

    /// <summary>A source file of the interop tests (scripts are read from the checkout, not copied to the output).</summary>
    public static string InteropSource(params string[] relative)
        => Path.Combine([RepositoryRoot(), "tests", "Ambient.Tests", "Interop", .. relative]);

    /// <summary>
    /// A TCP port on 127.0.0.1 that was free a moment ago, for programs that must be told their port.
    /// Another process may take it meanwhile: callers retry on "address in use".
    /// </summary>
    public static int FreeLoopbackPort()
    {
        using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        probe.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)probe.LocalEndPoint!).Port;
    }
}

/// <summary>A fact that is skipped, with the reason, only when nghttpx is not installed.</summary>
public sealed class NghttpxFactAttribute : FactAttribute
{
    public NghttpxFactAttribute()
    {
        if (ExternalTools.Nghttpx.Value is null)
            Skip = "nghttpx is not installed (apt-get install nghttp2-proxy, or set AMBIENT_NGHTTPX); CI installs it";
    }
}

/// <summary>A fact that is skipped, with the reason, only when Node.js is not installed.</summary>
public sealed class NodeFactAttribute : FactAttribute
{
    public NodeFactAttribute()
    {
        if (ExternalTools.Node.Value is null)
            Skip = "node is not installed (apt-get install nodejs, or set AMBIENT_NODE); CI installs it";
    }
}

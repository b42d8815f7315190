namespace Ambient.Harness.Configs;

/// <summary>The configurations the harness knows, in report order.</summary>
public static class ConfigCatalog
{
    public const string AmbientAot = "ambient-aot";

    public static readonly IReadOnlyList<string> Names = ["direct", "haproxy-tcp", "haproxy-tls", "ambient", AmbientAot, "nginx-l7", "ambient-waypoint"];

    /// <summary>The peer Ambient is judged against (the headline): an mTLS tunnel between two node proxies.</summary>
    public const string HeadlinePeer = "haproxy-tls";

    /// <summary>The configurations to run; <paramref name="aotDaemon"/> is the published NativeAOT daemon, if any.</summary>
    public static List<Configuration> Create(IReadOnlySet<string>? only, string? aotDaemon)
    {
        var all = new List<Configuration> { new Direct(), new HaproxyPair(tls: false), new HaproxyPair(tls: true), new AmbientPath() };
        if (aotDaemon is not null) all.Add(new AmbientPath(aotDaemon));
        // L7: the same HTTP load through nginx as a reverse proxy, and through daemon → waypoint → daemon.
        all.Add(new NginxReverseProxy());
        all.Add(new WaypointPath());
        return all.Where(c => only is null || only.Contains(c.Name)).ToList();
    }
}

namespace Ambient.Discovery.Kubernetes;

/// <summary>Settings of <see cref="KubernetesSource"/>. The defaults suit a cluster; tests shorten the timings.</summary>
public sealed record KubernetesSourceOptions
{
    /// <summary>SPIFFE trust domain of workload identities (Istio's default is the cluster domain).</summary>
    public string TrustDomain { get; init; } = Config.MeshConfig.DefaultTrustDomain;

    /// <summary>DNS suffix of service hostnames: <c>&lt;name&gt;.&lt;namespace&gt;.svc.&lt;ClusterDomain&gt;</c>.</summary>
    public string ClusterDomain { get; init; } = "cluster.local";

    /// <summary>Network name given to every workload (multi-network meshes); <c>""</c> is the local flat network.</summary>
    public string Network { get; init; } = "";

    /// <summary>Quiet time after a change before the config is rebuilt, so a burst of events becomes one snapshot.</summary>
    public TimeSpan DebounceDelay { get; init; } = TimeSpan.FromMilliseconds(100);

    /// <summary>First retry delay after an error (doubled per consecutive failure, with jitter).</summary>
    public TimeSpan InitialBackoff { get; init; } = TimeSpan.FromMilliseconds(500);

    /// <summary>Ceiling of the retry delay; also how often an absent optional CRD is looked for again.</summary>
    public TimeSpan MaxBackoff { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Server-side watch timeout; each watch asks for a random value between this and twice this (as client-go does),
    /// then resumes from its last resourceVersion.
    /// </summary>
    public TimeSpan WatchTimeout { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// A watch still open this long after the server should have ended it (its timeoutSeconds) is abandoned as a dead
    /// connection and resumed. (Over HTTP/2 the client's keep-alive pings find dead connections sooner.)
    /// </summary>
    public TimeSpan WatchIdleGrace { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Time limit of one list request (one page).</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Objects per list page (<c>limit</c>); 0 lists everything in one response.</summary>
    public int ListPageSize { get; init; } = 500;

    internal void Validate()
    {
        if (DebounceDelay < TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(DebounceDelay), DebounceDelay, "must not be negative");
        if (InitialBackoff <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(InitialBackoff), InitialBackoff, "must be positive");
        if (MaxBackoff < InitialBackoff) throw new ArgumentOutOfRangeException(nameof(MaxBackoff), MaxBackoff, "must be at least InitialBackoff");
        if (WatchTimeout < TimeSpan.FromSeconds(1)) throw new ArgumentOutOfRangeException(nameof(WatchTimeout), WatchTimeout, "must be at least 1 s");
        if (WatchIdleGrace < TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(WatchIdleGrace), WatchIdleGrace, "must not be negative");
        if (RequestTimeout <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(RequestTimeout), RequestTimeout, "must be positive");
        if (ListPageSize < 0) throw new ArgumentOutOfRangeException(nameof(ListPageSize), ListPageSize, "must not be negative");
        if (!Config.DnsNames.IsTrustDomain(TrustDomain)) throw new ArgumentException($"'{TrustDomain}' {Config.DnsNames.TrustDomainRule}", nameof(TrustDomain));
        if (!Config.DnsNames.IsSubdomain(ClusterDomain)) throw new ArgumentException($"'{ClusterDomain}' {Config.DnsNames.SubdomainRule}", nameof(ClusterDomain));
    }
}

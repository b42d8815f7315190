namespace Ambient.Config.Routes;

/// <summary>
/// Istio <c>networking.istio.io/v1 DestinationRule</c>, the parts the waypoint applies: circuit breaking
/// (<c>trafficPolicy.connectionPool</c>) and outlier detection for the service <see cref="Host"/>.
/// </summary>
public sealed record DestinationRule
{
    public required string Name { get; init; }
    public required string Namespace { get; init; }
    /// <summary>As written: a short name (<c>reviews</c>, in the rule's namespace) or an FQDN.</summary>
    public required string Host { get; init; }
    public ConnectionPoolSettings? ConnectionPool { get; init; }
    public OutlierDetectionSettings? OutlierDetection { get; init; }

    public string Key => $"{Namespace}/{Name}";

    /// <summary><see cref="Host"/> as an FQDN: a name without dots is <c>name.namespace.svc.&lt;clusterDomain&gt;</c>.</summary>
    public string ResolvedHost(string clusterDomain = "cluster.local") =>
        Host.Contains('.') ? Host : $"{Host}.{Namespace}.svc.{clusterDomain}";
}

/// <summary>
/// <c>connectionPool</c>; unset limits are unlimited (<see cref="int.MaxValue"/>), as in Istio.
/// </summary>
public sealed record ConnectionPoolSettings
{
    /// <summary><c>tcp.maxConnections</c>.</summary>
    public int MaxConnections { get; init; } = int.MaxValue;
    /// <summary><c>tcp.connectTimeout</c>; null = default.</summary>
    public TimeSpan? ConnectTimeout { get; init; }
    /// <summary><c>http.http1MaxPendingRequests</c>: requests waiting for a connection.</summary>
    public int MaxPendingRequests { get; init; } = int.MaxValue;
    /// <summary><c>http.http2MaxRequests</c>: concurrent requests to the service.</summary>
    public int MaxRequests { get; init; } = int.MaxValue;
    /// <summary><c>http.maxRequestsPerConnection</c>; 0 = unlimited.</summary>
    public int MaxRequestsPerConnection { get; init; }
    /// <summary><c>http.maxRetries</c>: concurrent retries outstanding to the service.</summary>
    public int MaxRetries { get; init; } = int.MaxValue;
    /// <summary><c>http.idleTimeout</c>; null = default.</summary>
    public TimeSpan? IdleTimeout { get; init; }
}

/// <summary><c>outlierDetection</c> with Istio's defaults.</summary>
public sealed record OutlierDetectionSettings
{
    /// <summary>5xx answers in a row that eject an endpoint; 0 disables.</summary>
    public int Consecutive5xxErrors { get; init; } = 5;
    /// <summary>502/503/504 and connection failures in a row that eject an endpoint; 0 disables.</summary>
    public int ConsecutiveGatewayErrors { get; init; }
    public TimeSpan Interval { get; init; } = TimeSpan.FromSeconds(10);
    public TimeSpan BaseEjectionTime { get; init; } = TimeSpan.FromSeconds(30);
    public int MaxEjectionPercent { get; init; } = 10;
}

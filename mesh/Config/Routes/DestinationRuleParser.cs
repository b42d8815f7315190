using YamlDotNet.RepresentationModel;

namespace Ambient.Config.Routes;

/// <summary>
/// Validates one <c>destinationRules:</c> item (Istio DestinationRule). Fields Istio has but the waypoint does not
/// apply yet (subsets, loadBalancer, tls, portLevelSettings, ...) are errors naming the field, not silently ignored.
/// </summary>
internal static class DestinationRuleParser
{
    private static readonly string[] SpecFields = ["host", "trafficPolicy", "exportTo", "subsets", "workloadSelector"];
    private static readonly string[] PolicyFields = ["connectionPool", "outlierDetection", "loadBalancer", "tls", "portLevelSettings", "tunnel", "proxyProtocol", "retryBudget"];
    private static readonly string[] PoolFields = ["tcp", "http"];
    private static readonly string[] TcpFields = ["maxConnections", "connectTimeout", "tcpKeepalive", "maxConnectionDuration", "idleTimeout"];
    private static readonly string[] HttpFields =
        ["http1MaxPendingRequests", "http2MaxRequests", "maxRequestsPerConnection", "maxRetries", "idleTimeout", "h2UpgradePolicy", "useClientProtocol", "maxConcurrentStreams"];
    private static readonly string[] OutlierFields =
        ["consecutive5xxErrors", "consecutiveGatewayErrors", "interval", "baseEjectionTime", "maxEjectionPercent", "minHealthPercent", "splitExternalLocalOriginErrors", "consecutiveLocalOriginFailures", "consecutiveErrors"];
    private static readonly HashSet<string> Unsupported =
        ["subsets", "workloadSelector", "loadBalancer", "tls", "portLevelSettings", "tunnel", "proxyProtocol", "retryBudget",
         "tcpKeepalive", "maxConnectionDuration", "h2UpgradePolicy", "useClientProtocol", "maxConcurrentStreams",
         "minHealthPercent", "splitExternalLocalOriginErrors", "consecutiveLocalOriginFailures", "consecutiveErrors"];

    public static (DestinationRule?, string?) Parse(YamlMap item)
    {
        var envelope = ObjectEnvelope.Parse(item, "DestinationRule", ObjectEnvelope.IstioNetworkingVersions);
        var spec = item.Map("spec", SpecFields, required: true);
        string? host = null;
        ConnectionPoolSettings? pool = null;
        OutlierDetectionSettings? outlier = null;
        if (spec is not null)
        {
            RejectUnsupported(spec);
            host = spec.String("host", required: true);
            if (host is not null && RouteFieldRules.Hostname(host, allowWildcard: true) is { } problem)
            {
                spec.Reader.Error(spec.Get("host")!, spec.PathOf("host"), problem);
                host = null;
            }
            spec.Strings("exportTo");
            if (spec.Map("trafficPolicy", PolicyFields) is { } policy)
            {
                RejectUnsupported(policy);
                pool = ConnectionPool(policy);
                outlier = OutlierDetection(policy);
            }
        }
        if (envelope.Name is null || envelope.Namespace is null || host is null) return (null, null);
        return (new DestinationRule
        {
            Name = envelope.Name, Namespace = envelope.Namespace, Host = host, ConnectionPool = pool, OutlierDetection = outlier,
        }, $"{envelope.Namespace}/{envelope.Name}");
    }

    private static void RejectUnsupported(YamlMap map)
    {
        foreach (var (key, _) in map.Node.Children)
        {
            if (key is YamlScalarNode { Value: { } name } && Unsupported.Contains(name) && map.Get(name) is { } value)
                map.Reader.Error(value, map.PathOf(name), $"'{name}' is not supported by the Ambient waypoint yet (remove it, or apply it with Istio)");
        }
    }

    private static ConnectionPoolSettings? ConnectionPool(YamlMap policy)
    {
        var map = policy.Map("connectionPool", PoolFields);
        if (map is null) return null;
        var settings = new ConnectionPoolSettings();
        if (map.Map("tcp", TcpFields) is { } tcp)
        {
            RejectUnsupported(tcp);
            settings = settings with
            {
                MaxConnections = RouteFieldRules.Int(tcp, "maxConnections", 1, int.MaxValue, "connection limit") ?? settings.MaxConnections,
                ConnectTimeout = RouteFieldRules.IstioDuration(tcp, "connectTimeout"),
            };
            RouteFieldRules.IstioDuration(tcp, "idleTimeout");
        }
        if (map.Map("http", HttpFields) is { } http)
        {
            RejectUnsupported(http);
            settings = settings with
            {
                MaxPendingRequests = RouteFieldRules.Int(http, "http1MaxPendingRequests", 1, int.MaxValue, "request limit") ?? settings.MaxPendingRequests,
                MaxRequests = RouteFieldRules.Int(http, "http2MaxRequests", 1, int.MaxValue, "request limit") ?? settings.MaxRequests,
                MaxRequestsPerConnection = RouteFieldRules.Int(http, "maxRequestsPerConnection", 0, int.MaxValue, "request limit") ?? 0,
                MaxRetries = RouteFieldRules.Int(http, "maxRetries", 0, int.MaxValue, "retry limit") ?? settings.MaxRetries,
                IdleTimeout = RouteFieldRules.IstioDuration(http, "idleTimeout"),
            };
        }
        return settings;
    }

    private static OutlierDetectionSettings? OutlierDetection(YamlMap policy)
    {
        var map = policy.Map("outlierDetection", OutlierFields);
        if (map is null) return null;
        RejectUnsupported(map);
        var defaults = new OutlierDetectionSettings();
        return new OutlierDetectionSettings
        {
            Consecutive5xxErrors = RouteFieldRules.Int(map, "consecutive5xxErrors", 0, int.MaxValue, "error count") ?? defaults.Consecutive5xxErrors,
            ConsecutiveGatewayErrors = RouteFieldRules.Int(map, "consecutiveGatewayErrors", 0, int.MaxValue, "error count") ?? defaults.ConsecutiveGatewayErrors,
            Interval = RouteFieldRules.IstioDuration(map, "interval") ?? defaults.Interval,
            BaseEjectionTime = RouteFieldRules.IstioDuration(map, "baseEjectionTime") ?? defaults.BaseEjectionTime,
            MaxEjectionPercent = RouteFieldRules.Int(map, "maxEjectionPercent", 0, 100, "percentage") ?? defaults.MaxEjectionPercent,
        };
    }
}

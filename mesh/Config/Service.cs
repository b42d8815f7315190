using System.Collections.Immutable;
using System.Net;

namespace Ambient.Config;

/// <summary>A service: a set of VIPs/ports (and a hostname) load-balanced over workload endpoints.</summary>
public sealed record Service
{
    public required string Name { get; init; }

    public required string Namespace { get; init; }

    /// <summary>Defaults to <c>"&lt;name&gt;.&lt;namespace&gt;.svc.cluster.local"</c>; unique per namespace.</summary>
    public required string Hostname { get; init; }

    /// <summary>Virtual IPs; each unique across all services. May be empty (headless).</summary>
    public ImmutableArray<IPAddress> Vips { get; init; } = [];

    /// <summary>Service port → target port. Already resolved: a YAML target port of 0/omitted is stored as the service port.</summary>
    public ImmutableDictionary<int, int> Ports { get; init; } = ImmutableDictionary<int, int>.Empty;

    public NamespacedName? Waypoint { get; init; }

    /// <summary>Extra identities accepted for endpoints of this service (SPIFFE ids).</summary>
    public ImmutableArray<string> SubjectAltNames { get; init; } = [];

    public ImmutableDictionary<string, string> Labels { get; init; } = ImmutableDictionary<string, string>.Empty;

    /// <summary>
    /// When set, workloads in the service's namespace whose labels contain all of these are endpoints too
    /// (in addition to workloads listing the service in their <c>services</c> map). Null = no selector.
    /// </summary>
    public ImmutableDictionary<string, string>? Selector { get; init; }

    /// <summary><c>"&lt;namespace&gt;/&lt;hostname&gt;"</c>, the key used by <see cref="Workload.Services"/>.</summary>
    public string Key => $"{Namespace}/{Hostname}";

    public static string DefaultHostname(string name, string @namespace) => $"{name}.{@namespace}.svc.cluster.local";
}

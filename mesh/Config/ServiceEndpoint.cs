using System.Collections.Immutable;

namespace Ambient.Config;

/// <summary>A workload that backs a service, with its resolved service port → target port map.</summary>
public sealed record ServiceEndpoint(Workload Workload, ImmutableDictionary<int, int> Ports)
{
    public int? TargetPortFor(int servicePort) => Ports.TryGetValue(servicePort, out var target) ? target : null;
}

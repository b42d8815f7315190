using Ambient.Config;

namespace Ambient.LoadBalancing;

/// <summary>
/// Identifies one endpoint for health and load accounting: the workload's <see cref="Workload.Uid"/> and the target
/// port dialled on it (a workload backing two services on different ports has two entries). Ordinal equality.
/// </summary>
public readonly record struct EndpointKey(string WorkloadUid, int TargetPort)
{
    public static EndpointKey Of(in EndpointTarget endpoint) => new(endpoint.Workload.Uid, endpoint.TargetPort);

    public override string ToString() => $"{WorkloadUid}:{TargetPort}";
}

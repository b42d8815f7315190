namespace Ambient.Config;

/// <summary>Where to send a connection for one service port: the endpoint workload and its target port.</summary>
public readonly record struct EndpointTarget(Workload Workload, int TargetPort);

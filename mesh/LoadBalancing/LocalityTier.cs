namespace Ambient.LoadBalancing;

/// <summary>How close an endpoint is to the client, best first. Numeric order is preference order.</summary>
public enum LocalityTier : byte
{
    /// <summary>Same node (<see cref="Ambient.Config.Workload.Node"/>).</summary>
    Node = 0,

    /// <summary>Same region and zone (both non-empty).</summary>
    Zone = 1,

    /// <summary>Same region (non-empty).</summary>
    Region = 2,

    /// <summary>Anywhere else (also: the client or the endpoint has no locality).</summary>
    Any = 3,
}

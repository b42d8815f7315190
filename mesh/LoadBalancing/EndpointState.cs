namespace Ambient.LoadBalancing;

/// <summary>Outlier-detection state of one endpoint at a point in time.</summary>
public enum EndpointState
{
    /// <summary>Healthy: eligible for every pick.</summary>
    Admitted,

    /// <summary>Ejected and its back-off has not elapsed: picked only in panic mode.</summary>
    Ejected,

    /// <summary>Back-off elapsed, not yet proven: the next pick may try it once (see <see cref="OutlierDetectionOptions.ProbeTimeout"/>).</summary>
    HalfOpen,
}

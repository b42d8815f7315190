namespace Ambient.Config;

/// <summary>How traffic to a workload is carried. YAML values are case-insensitive (<c>HBONE</c>, <c>TCP</c>).</summary>
public enum WorkloadProtocol
{
    /// <summary>Mesh workload: inbound traffic arrives over HBONE (mTLS + HTTP/2 CONNECT) on port 15008.</summary>
    Hbone,

    /// <summary>Out-of-mesh workload: plain TCP to the target port.</summary>
    Tcp,
}

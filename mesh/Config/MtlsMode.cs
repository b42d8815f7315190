namespace Ambient.Config;

/// <summary>Istio PeerAuthentication mTLS mode. YAML is case-insensitive.</summary>
public enum MtlsMode
{
    /// <summary>Inherit from the parent scope (namespace, then mesh); at the top this means PERMISSIVE.</summary>
    Unset,

    /// <summary>Plain text only.</summary>
    Disable,

    /// <summary>Accept both mTLS (HBONE) and plain text.</summary>
    Permissive,

    /// <summary>mTLS (HBONE) only.</summary>
    Strict,
}

using System.Collections.Immutable;

namespace Ambient.Config;

/// <summary>
/// Istio <c>security.istio.io/v1 PeerAuthentication</c>. Scope rules match <see cref="AuthorizationPolicy"/>:
/// root namespace = mesh-wide, otherwise namespace-wide, narrowed by <see cref="Selector"/>.
/// </summary>
public sealed record PeerAuthentication
{
    public required string Name { get; init; }

    public required string Namespace { get; init; }

    public WorkloadSelector? Selector { get; init; }

    /// <summary><c>spec.mtls.mode</c> (<see cref="MtlsMode.Unset"/> when omitted).</summary>
    public MtlsMode Mtls { get; init; } = MtlsMode.Unset;

    /// <summary><c>spec.portLevelMtls</c>: target port → mode. Only allowed together with a selector (as in Istio).</summary>
    public ImmutableDictionary<int, MtlsMode> PortLevelMtls { get; init; } = ImmutableDictionary<int, MtlsMode>.Empty;

    public string Key => $"{Namespace}/{Name}";
}

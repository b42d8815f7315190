using System.Collections.Immutable;
using System.Net;

namespace Ambient.Config;

/// <summary>
/// Istio <c>rules[].from[].source</c>. Every field mirrors the YAML; an empty array means "not set".
/// Principals/namespaces may use a single leading or trailing <c>*</c> wildcard, as in Istio.
/// IP blocks accept an address (stored as /32 or /128) or a CIDR (host bits are masked off).
/// Request principals are JWT-based (HTTP only); an L4 evaluator treats them the Istio way.
/// </summary>
public sealed record PolicySource
{
    public ImmutableArray<string> Principals { get; init; } = [];
    public ImmutableArray<string> NotPrincipals { get; init; } = [];
    public ImmutableArray<string> RequestPrincipals { get; init; } = [];
    public ImmutableArray<string> NotRequestPrincipals { get; init; } = [];
    public ImmutableArray<string> Namespaces { get; init; } = [];
    public ImmutableArray<string> NotNamespaces { get; init; } = [];
    public ImmutableArray<IPNetwork> IpBlocks { get; init; } = [];
    public ImmutableArray<IPNetwork> NotIpBlocks { get; init; } = [];
    public ImmutableArray<IPNetwork> RemoteIpBlocks { get; init; } = [];
    public ImmutableArray<IPNetwork> NotRemoteIpBlocks { get; init; } = [];
}

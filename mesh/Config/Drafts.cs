using System.Net;
using YamlDotNet.RepresentationModel;

namespace Ambient.Config;

// Intermediate results of parsing, still carrying YAML nodes so that cross-object checks (duplicates, references)
// can point at the right line. Drafts are built even when the object had field errors, so those checks still run.

/// <summary>A YAML value with the node and path it came from.</summary>
internal readonly record struct Located<T>(T Value, YamlNode Node, string Path);

/// <summary>A fully parsed object that only needs duplicate checks (policies).</summary>
internal sealed record ParsedObject<T>(T Value, int Index, string Path, YamlNode NameNode);

internal sealed class ServiceDraft
{
    public required int Index { get; init; }
    public required string Path { get; init; }
    public required Service Service { get; set; }
    public required YamlNode NameNode { get; init; }
    /// <summary>The <c>hostname</c> node, or the name node when the hostname was defaulted.</summary>
    public required YamlNode HostnameNode { get; init; }
    public required string HostnamePath { get; init; }
    public List<Located<IPAddress>> Vips { get; } = [];
    public Located<NamespacedName>? Waypoint { get; set; }
}

internal sealed class WorkloadDraft
{
    public required int Index { get; init; }
    public required string Path { get; init; }
    public required Workload Workload { get; set; }
    /// <summary>The <c>uid</c> node, or the name node when the uid was defaulted.</summary>
    public required YamlNode UidNode { get; init; }
    public required string UidPath { get; init; }
    public List<Located<IPAddress>> Addresses { get; } = [];
    public Located<NamespacedName>? Waypoint { get; set; }
    public List<ServiceRefDraft> ServiceRefs { get; } = [];
}

/// <summary>One entry of a workload's <c>services</c> map: <c>"ns/hostname-or-name": { servicePort: targetPort }</c>.</summary>
internal sealed record ServiceRefDraft(
    string Namespace, string HostnameOrName, string RawKey, YamlNode KeyNode, string Path, List<ServicePortDraft> Ports);

internal sealed record ServicePortDraft(int ServicePort, int TargetPort, YamlNode Node, string Path);

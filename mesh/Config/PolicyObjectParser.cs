using System.Collections.Immutable;
using YamlDotNet.RepresentationModel;

namespace Ambient.Config;

/// <summary>
/// Validates one Istio policy object given as an already-built YAML tree (for example converted from the JSON that
/// the Kubernetes API serves), with exactly the rules the config file uses for its <c>authorizationPolicies:</c> and
/// <c>peerAuthentications:</c> items. Field paths in the errors are relative to the object
/// (<c>spec.rules[0].from[0].source.ipBlocks[0]</c>). Only per-object rules apply here; cross-object checks
/// (duplicates, one namespace-wide PeerAuthentication per namespace) are the caller's.
/// </summary>
internal static class PolicyObjectParser
{
    public static (AuthorizationPolicy? Policy, ImmutableArray<ConfigError> Errors) ParseAuthorizationPolicy(YamlNode node, string sourceName)
    {
        var reader = new ConfigReader(sourceName);
        AuthorizationPolicy? policy = null;
        var map = reader.Map(node, "", IstioObjectParser.Fields);
        if (map is not null) (policy, _) = AuthorizationPolicyParser.Parse(map);
        return reader.Errors.Count == 0 && policy is not null ? (policy, []) : (null, [.. reader.Errors]);
    }

    public static (PeerAuthentication? Policy, ImmutableArray<ConfigError> Errors) ParsePeerAuthentication(YamlNode node, string sourceName)
    {
        var reader = new ConfigReader(sourceName);
        PeerAuthentication? policy = null;
        var map = reader.Map(node, "", IstioObjectParser.Fields);
        if (map is not null) (policy, _) = PeerAuthenticationParser.Parse(map);
        return reader.Errors.Count == 0 && policy is not null ? (policy, []) : (null, [.. reader.Errors]);
    }
}

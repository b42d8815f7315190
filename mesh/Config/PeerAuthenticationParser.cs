using System.Collections.Immutable;
using YamlDotNet.RepresentationModel;

namespace Ambient.Config;

/// <summary>Parses and validates <c>peerAuthentications:</c> items (Istio PeerAuthentication shape).</summary>
internal static class PeerAuthenticationParser
{
    private static readonly string[] SpecFields = ["selector", "mtls", "portLevelMtls"];
    private static readonly string[] MtlsFields = ["mode"];

    private static readonly (string, MtlsMode)[] Modes =
    [
        ("UNSET", MtlsMode.Unset), ("DISABLE", MtlsMode.Disable),
        ("PERMISSIVE", MtlsMode.Permissive), ("STRICT", MtlsMode.Strict),
    ];

    public static List<ParsedObject<PeerAuthentication>> ParseAll(YamlMap top)
    {
        var result = new List<ParsedObject<PeerAuthentication>>();
        foreach (var (item, path, index) in top.List("peerAuthentications"))
        {
            var map = top.Reader.Map(item, path, IstioObjectParser.Fields);
            if (map is null) continue;
            var (policy, nameNode) = Parse(map);
            if (policy is not null) result.Add(new(policy, index, path, nameNode));
        }
        return result;
    }

    internal static (PeerAuthentication?, YamlNode) Parse(YamlMap item)
    {
        var reader = item.Reader;
        var (name, ns, nameNode) = IstioObjectParser.ParseEnvelope(item, "PeerAuthentication");
        var spec = item.Map("spec", SpecFields);

        WorkloadSelector? selector = null;
        var mode = MtlsMode.Unset;
        var portLevel = ImmutableDictionary.CreateBuilder<int, MtlsMode>();
        if (spec is not null)
        {
            selector = AuthorizationPolicyParser.ParseSelector(spec);
            mode = ParseMode(spec.Map("mtls", MtlsFields)) ?? MtlsMode.Unset;
            if (spec.Get("portLevelMtls") is { } portsNode)
            {
                if (selector is null || selector.MatchLabels.IsEmpty)
                {
                    reader.Error(portsNode, spec.PathOf("portLevelMtls"), "portLevelMtls requires a non-empty selector (as in Istio)");
                }
                foreach (var (keyNode, key, valueNode, path) in reader.Entries(portsNode, spec.PathOf("portLevelMtls")))
                {
                    var port = reader.ParseInt(keyNode, path, key, 1, 65535, "port");
                    var portMode = ParseMode(reader.Map(valueNode, path, MtlsFields));
                    if (port is not null && portMode is not null) portLevel[port.Value] = portMode.Value;
                }
            }
        }

        if (name is null || ns is null) return (null, nameNode);
        return (new PeerAuthentication
        {
            Name = name,
            Namespace = ns,
            Selector = selector,
            Mtls = mode,
            PortLevelMtls = portLevel.ToImmutable(),
        }, nameNode);
    }

    private static MtlsMode? ParseMode(YamlMap? mtls)
    {
        if (mtls is null) return null;
        var node = mtls.Get("mode");
        return node is null ? MtlsMode.Unset : mtls.Reader.Enum(node, mtls.PathOf("mode"), "mTLS mode", Modes);
    }
}

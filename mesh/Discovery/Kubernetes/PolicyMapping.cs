using System.Text.Json;
using Ambient.Config;
using YamlDotNet.RepresentationModel;

namespace Ambient.Discovery.Kubernetes;

/// <summary>
/// Istio <c>security.istio.io</c> policies from the API, validated by the same parser as the config file's
/// <c>authorizationPolicies:</c>/<c>peerAuthentications:</c> items (so an API object is accepted exactly when the same
/// object pasted into the file would be). Errors keep the parser's messages and object-relative field paths.
/// </summary>
internal static class PolicyMapping
{
    private const string SourceName = "kubernetes";

    public static AuthorizationPolicy? ReadAuthorizationPolicy(KubernetesResource resource, CachedObject policy, ObjectProblems problems)
    {
        var (result, errors) = PolicyObjectParser.ParseAuthorizationPolicy(ToParserInput(resource, policy), SourceName);
        foreach (var error in errors) problems.Add(error.FieldPath, error.Message);
        return result;
    }

    public static PeerAuthentication? ReadPeerAuthentication(KubernetesResource resource, CachedObject policy, ObjectProblems problems)
    {
        var (result, errors) = PolicyObjectParser.ParsePeerAuthentication(ToParserInput(resource, policy), SourceName);
        foreach (var error in errors) problems.Add(error.FieldPath, error.Message);
        return result;
    }

    /// <summary>
    /// An L7 object (HTTPRoute, GRPCRoute, DestinationRule, RequestAuthentication) through the config file's parser;
    /// null (with its problems reported) when invalid, so it is rejected alone.
    /// </summary>
    public static T? ReadL7<T>(KubernetesResource resource, CachedObject o, ObjectProblems problems,
        Func<YamlDotNet.RepresentationModel.YamlNode, string, string, int, Ambient.Config.Routes.ParsedConfigObject<T>> parse) where T : class
    {
        var parsed = parse(ToParserInput(resource, o), SourceName, "", 0);
        foreach (var error in parsed.Errors) problems.Add(error.FieldPath, error.Message);
        return parsed.Value;
    }

    /// <summary>
    /// The document the parser expects: apiVersion and kind of the resource, metadata reduced to what a policy item
    /// may carry (name, namespace, labels, annotations; server-set fields are not the user's), and the spec.
    /// </summary>
    private static YamlMappingNode ToParserInput(KubernetesResource resource, CachedObject policy)
    {
        var document = new YamlMappingNode
        {
            { JsonToYaml.Quoted("apiVersion"), JsonToYaml.Quoted(resource.ApiVersion) },
            { JsonToYaml.Quoted("kind"), JsonToYaml.Quoted(resource.Kind) },
        };
        var metadata = new YamlMappingNode();
        if (JsonRead.Get(policy.Object, "metadata") is { ValueKind: JsonValueKind.Object } source)
        {
            foreach (var field in (ReadOnlySpan<string>)["name", "namespace", "labels", "annotations"])
            {
                if (JsonRead.Get(source, field) is { } value) metadata.Add(JsonToYaml.Quoted(field), JsonToYaml.Convert(value));
            }
        }
        document.Add(JsonToYaml.Quoted("metadata"), metadata);
        if (JsonRead.Get(policy.Object, "spec") is { } spec) document.Add(JsonToYaml.Quoted("spec"), JsonToYaml.Convert(spec));
        return document;
    }
}

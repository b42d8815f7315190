using Ambient.Config.Routes;
using YamlDotNet.RepresentationModel;

namespace Ambient.Tests.Waypoint;

/// <summary>
/// Mutated and random YAML through every route parser entry point: no exception may escape, and every object is
/// either accepted with no errors or rejected with at least one.
/// </summary>
public class RouteParserFuzzTests
{
    private static readonly string[] Seeds =
    [
        "{metadata: {name: r, namespace: d, annotations: {ambient.dev/fault: '{delay: {fixedDelay: 1s}}'}}, spec: {parentRefs: [{group: '', kind: Service, name: s, port: 80}], hostnames: [a.b], rules: [{matches: [{path: {type: PathPrefix, value: /a}, headers: [{name: x, value: y}], queryParams: [{name: q, value: v}], method: GET}], filters: [{type: URLRewrite, urlRewrite: {path: {type: ReplacePrefixMatch, replacePrefixMatch: /b}}}, {type: RequestMirror, requestMirror: {backendRef: {name: m, port: 1}, fraction: {numerator: 1, denominator: 3}}}], backendRefs: [{name: a, port: 80, weight: 5, filters: [{type: RequestHeaderModifier, requestHeaderModifier: {set: [{name: a, value: b}], remove: [c]}}]}], timeouts: {request: 1s, backendRequest: 500ms}, retry: {codes: [503], attempts: 2, backoff: 10ms}}]}}",
        "{apiVersion: gateway.networking.k8s.io/v1, kind: GRPCRoute, metadata: {name: g, namespace: d}, spec: {rules: [{matches: [{method: {type: RegularExpression, service: 'a\\..*', method: M}}], backendRefs: [{name: a, port: 1}]}]}}",
        "{metadata: {name: dr, namespace: d}, spec: {host: a, trafficPolicy: {connectionPool: {tcp: {maxConnections: 1}, http: {http2MaxRequests: 2}}, outlierDetection: {consecutive5xxErrors: 1, interval: 1s, baseEjectionTime: 1s, maxEjectionPercent: 50}}}}",
        "{metadata: {name: ra, namespace: d}, spec: {jwtRules: [{issuer: i, jwks: '{\"keys\": []}', fromHeaders: [{name: a, prefix: b}], outputClaimToHeaders: [{header: h, claim: c}]}]}}",
    ];

    private static readonly string[] Scalars =
        ["", "~", "-1", "0", "1000001", "99999999999", "1.5", "true", "/", "//", "*", "a b", "GET", "Service", "PathPrefix", "RegularExpression", "(", "[a", "10s", "1h2m", "ms", "\u00e9", "\0", "RequestRedirect", "ExtensionRef", "ReplacePrefixMatch"];

    [Fact]
    public void MutatedDocuments_NeverThrow()
    {
        var random = new Random(20261126);
        for (var iteration = 0; iteration < 1500; iteration++)
        {
            var seed = Seeds[iteration % Seeds.Length];
            var text = iteration % 3 == 0 ? MutateText(seed, random) : seed;
            YamlNode root;
            try
            {
                var stream = new YamlStream();
                stream.Load(new StringReader(text));
                if (stream.Documents.Count == 0) continue;
                root = stream.Documents[0].RootNode;
            }
            catch (Exception)
            {
                continue; // not YAML: the loader reports that before any parser runs
            }
            if (iteration % 3 != 0) MutateTree(root, random, 1 + random.Next(4));
            RunAll(root);
        }
    }

    [Fact]
    public void RandomTrees_NeverThrow()
    {
        var random = new Random(7);
        for (var i = 0; i < 500; i++) RunAll(RandomNode(random, 4));
    }

    private static void RunAll(YamlNode root)
    {
        Check(RouteConfigParser.ParseHttpRoute(root, "f", "httpRoutes[0]"));
        Check(RouteConfigParser.ParseGrpcRoute(root, "f", "grpcRoutes[0]"));
        Check(RouteConfigParser.ParseDestinationRule(root, "f", "destinationRules[0]"));
        Check(RouteConfigParser.ParseRequestAuthentication(root, "f", "requestAuthentications[0]"));
    }

    private static void Check<T>(ParsedConfigObject<T> parsed) where T : class
    {
        Assert.Equal(parsed.Ok, parsed.Errors.IsEmpty);
        Assert.DoesNotContain(parsed.Errors, e => e.Message.StartsWith("internal error", StringComparison.Ordinal));
    }

    private static string MutateText(string text, Random random)
    {
        var chars = text.ToCharArray().ToList();
        for (var n = random.Next(1, 4); n > 0 && chars.Count > 0; n--)
        {
            var at = random.Next(chars.Count);
            switch (random.Next(3))
            {
                case 0: chars.RemoveAt(at); break;
                case 1: chars.Insert(at, "{}[],:'\"-0a/*"[random.Next(13)]); break;
                default: chars[at] = (char)random.Next(32, 127); break;
            }
        }
        return new string([.. chars]);
    }

    /// <summary>Replaces scalars, drops or duplicates entries, swaps kinds of nodes at random places.</summary>
    private static void MutateTree(YamlNode node, Random random, int mutations)
    {
        var all = new List<YamlNode>();
        Collect(node, all);
        for (var m = 0; m < mutations; m++)
        {
            switch (all[random.Next(all.Count)])
            {
                case YamlMappingNode map when map.Children.Count > 0:
                    var key = map.Children.Keys.ElementAt(random.Next(map.Children.Count));
                    if (random.Next(2) == 0) map.Children.Remove(key);
                    else map.Children[key] = RandomNode(random, 2);
                    break;
                case YamlSequenceNode seq when seq.Children.Count > 0:
                    if (random.Next(2) == 0) seq.Children.RemoveAt(random.Next(seq.Children.Count));
                    else seq.Children.Add(random.Next(2) == 0 ? seq.Children[0] : RandomNode(random, 2));
                    break;
                case YamlScalarNode scalar:
                    scalar.Value = Scalars[random.Next(Scalars.Length)];
                    break;
            }
        }
    }

    private static void Collect(YamlNode node, List<YamlNode> into)
    {
        into.Add(node);
        if (node is YamlMappingNode map) foreach (var (_, value) in map.Children) Collect(value, into);
        if (node is YamlSequenceNode seq) foreach (var child in seq.Children) Collect(child, into);
    }

    private static YamlNode RandomNode(Random random, int depth)
    {
        var kind = depth <= 0 ? 0 : random.Next(3);
        if (kind == 0) return new YamlScalarNode(Scalars[random.Next(Scalars.Length)]);
        string[] keys = ["metadata", "spec", "name", "namespace", "rules", "matches", "path", "type", "value", "filters", "backendRefs", "weight", "port", "host", "jwtRules", "issuer", "annotations", "parentRefs", "kind", "group", "apiVersion"];
        if (kind == 1)
        {
            var map = new YamlMappingNode();
            for (var i = random.Next(4); i > 0; i--)
            {
                var key = keys[random.Next(keys.Length)];
                if (!map.Children.ContainsKey(new YamlScalarNode(key))) map.Add(key, RandomNode(random, depth - 1));
            }
            return map;
        }
        var seq = new YamlSequenceNode();
        for (var i = random.Next(3); i > 0; i--) seq.Add(RandomNode(random, depth - 1));
        return seq;
    }
}

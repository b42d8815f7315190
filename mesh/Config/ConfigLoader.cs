using System.Collections.Immutable;
using System.Text;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Ambient.Config;

/// <summary>
/// Loads and validates the local mesh config (YAML). Uses YamlDotNet's representation model only (no reflection),
/// so it is NativeAOT-safe. Never throws for bad content: every problem becomes a <see cref="ConfigError"/> with
/// file, line, column and field path, and all problems are collected in one pass. An error inside one object
/// (a workload, service or policy) rejects that object alone and the rest applies; a file-level error (YAML syntax,
/// an unknown top-level key, an invalid trustDomain) rejects the whole file.
/// </summary>
public static class ConfigLoader
{
    /// <summary>Logical name of the embedded copy of <c>deploy/local/ambient.yaml</c>.</summary>
    public const string EmbeddedDefaultResourceName = "ambient.default.yaml";

    private static readonly string[] TopLevelFields =
    [
        "trustDomain", "workloads", "services", "authorizationPolicies", "peerAuthentications",
        Routes.RouteConfigParser.HttpRoutesKey, Routes.RouteConfigParser.GrpcRoutesKey,
        Routes.RouteConfigParser.DestinationRulesKey, Routes.RouteConfigParser.RequestAuthenticationsKey,
    ];

    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>Reads and loads a file. IO problems (missing file, permissions) become a position-less <see cref="ConfigError"/>.</summary>
    public static ConfigLoadResult LoadFile(string path, long generation)
    {
        byte[] bytes;
        try
        {
            bytes = ReadAllBytesShared(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException or System.Security.SecurityException)
        {
            return ConfigLoadResult.Failed(new ConfigError(path, 0, 0, "", $"cannot read config file: {e.Message}"));
        }
        return LoadBytes(bytes, path, generation);
    }

    /// <summary>Loads YAML text; <paramref name="sourceName"/> is used as the file name in errors and <see cref="MeshConfig.Source"/>.</summary>
    public static ConfigLoadResult LoadText(string yaml, string sourceName, long generation)
    {
        var reader = new ConfigReader(sourceName);
        var config = Parse(reader, yaml, generation);
        var errors = reader.Errors
            .Select((e, i) => (e, i))
            .OrderBy(x => x.e.Line).ThenBy(x => x.e.Column).ThenBy(x => x.i)
            .Select(x => x.e)
            .ToImmutableArray();
        return new ConfigLoadResult(config, errors);
    }

    /// <summary>Loads the default config shipped inside the assembly (a copy of <c>deploy/local/ambient.yaml</c>).</summary>
    public static ConfigLoadResult LoadEmbeddedDefault(long generation) =>
        LoadText(ReadEmbeddedDefault(), EmbeddedDefaultResourceName, generation);

    /// <summary>The text of the embedded default config, e.g. to write it out for a new user.</summary>
    public static string ReadEmbeddedDefault()
    {
        using var stream = typeof(ConfigLoader).Assembly.GetManifestResourceStream(EmbeddedDefaultResourceName)
            ?? throw new InvalidOperationException($"embedded resource '{EmbeddedDefaultResourceName}' is missing from {typeof(ConfigLoader).Assembly.GetName().Name}");
        using var text = new StreamReader(stream, Encoding.UTF8);
        return text.ReadToEnd();
    }

    internal static ConfigLoadResult LoadBytes(ReadOnlySpan<byte> bytes, string sourceName, long generation)
    {
        if (bytes.StartsWith((ReadOnlySpan<byte>)[0xEF, 0xBB, 0xBF])) bytes = bytes[3..];
        string text;
        try
        {
            text = StrictUtf8.GetString(bytes);
        }
        catch (DecoderFallbackException)
        {
            return ConfigLoadResult.Failed(new ConfigError(sourceName, 0, 0, "", "config file is not valid UTF-8"));
        }
        return LoadText(text, sourceName, generation);
    }

    /// <summary>Reads a file without blocking writers or renames (editors, atomic replace).</summary>
    internal static byte[] ReadAllBytesShared(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, bufferSize: 1, FileOptions.SequentialScan);
        using var buffer = new MemoryStream();
        stream.CopyTo(buffer);
        return buffer.ToArray();
    }

    /// <summary>Upper bound on nodes after alias expansion ("billion laughs" protection).</summary>
    internal const long MaxExpandedNodes = 1_000_000;

    /// <summary>
    /// YAML aliases share nodes, so a small file can expand to a huge tree, or even a cycle (<c>&amp;a [*a]</c>).
    /// Computes the expanded size with memoization and rejects cycles and oversized documents.
    /// </summary>
    private static bool CheckAliases(ConfigReader reader, YamlNode root)
    {
        var sizes = new Dictionary<YamlNode, long>(ReferenceEqualityComparer.Instance);
        var active = new HashSet<YamlNode>(ReferenceEqualityComparer.Instance);

        long Size(YamlNode node)
        {
            if (sizes.TryGetValue(node, out var known)) return known;
            if (!active.Add(node))
            {
                reader.Error(node, "", "recursive YAML alias: a node cannot contain itself");
                return long.MaxValue;
            }
            long total = 1;
            IEnumerable<YamlNode> children = node switch
            {
                YamlMappingNode m => m.Children.SelectMany(kv => new[] { kv.Key, kv.Value }),
                YamlSequenceNode q => q.Children,
                _ => [],
            };
            foreach (var child in children)
            {
                var size = Size(child);
                if (size == long.MaxValue) return long.MaxValue;
                total += size;
                if (total > MaxExpandedNodes)
                {
                    reader.Error(node, "", $"document is too large after expanding YAML aliases (more than {MaxExpandedNodes} nodes)");
                    return long.MaxValue;
                }
            }
            active.Remove(node);
            sizes[node] = total;
            return total;
        }

        return Size(root) != long.MaxValue;
    }

    private static MeshConfig? Parse(ConfigReader reader, string yaml, long generation)
    {
        var stream = new YamlStream();
        var parser = new Parser(new StringReader(yaml));
        try
        {
            stream.Load(parser);
        }
        catch (YamlException e)
        {
            reader.Error(e.Start, "", $"YAML syntax error: {e.Message}");
            return null;
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // YamlDotNet occasionally fails with a non-YAML exception (e.g. InvalidOperationException for an unclosed
            // flow collection); point at the last event it managed to parse.
            var mark = parser.Current?.End ?? Mark.Empty;
            reader.Error(mark, "", "YAML syntax error: unexpected content (is a bracket, brace or quote not closed?)");
            return null;
        }

        if (stream.Documents.Count > 1)
        {
            reader.Error(stream.Documents[1].RootNode, "", "expected a single YAML document, found another one ('---') here");
            return null;
        }
        var root = stream.Documents.Count == 0 ? null : stream.Documents[0].RootNode;
        if (ConfigReader.IsNull(root))
        {
            reader.Error(Mark.Empty, "", "config file is empty (write '{}' for an empty mesh)");
            return null;
        }
        if (CheckAliases(reader, root!) is false) return null;
        var top = reader.Map(root!, "", TopLevelFields);
        if (top is null) return null;

        var trustDomain = top.Name("trustDomain", DnsNames.IsTrustDomain, DnsNames.TrustDomainRule, required: false)
                          ?? MeshConfig.DefaultTrustDomain;
        var services = ServiceParser.ParseAll(top);
        var workloads = WorkloadParser.ParseAll(top, trustDomain);
        var authorizationPolicies = AuthorizationPolicyParser.ParseAll(top);
        var peerAuthentications = PeerAuthenticationParser.ParseAll(top);
        var httpRoutes = Routes.RouteConfigParser.ParseHttpRouteList(top);
        var grpcRoutes = Routes.RouteConfigParser.ParseGrpcRouteList(top);
        var destinationRules = Routes.RouteConfigParser.ParseDestinationRuleList(top);
        var requestAuthentications = Routes.RouteConfigParser.ParseRequestAuthenticationList(top);

        // An error inside one object (workloads[3], authorizationPolicies[0], ...) rejects that object alone; anything
        // else (syntax, unknown top-level key, trustDomain, a list that is not a list) rejects the file.
        var rejected = new HashSet<string>(StringComparer.Ordinal);
        if (!RejectObjects(reader.Errors, rejected)) return null;
        if (rejected.Count > 0)
        {
            // Cross-check everything once so a rejected object's report is complete (a bad field and a duplicate
            // address are both worth knowing); errors landing on valid objects here are not theirs to carry.
            var full = new ConfigReader(reader.File);
            ConfigLinker.Link(full, trustDomain, services, workloads, authorizationPolicies, peerAuthentications, generation);
            reader.Errors.AddRange(full.Errors.FindAll(e => rejected.Contains(e.ObjectPath)));
        }
        // Dropping an object can break the objects that refer to it (a workload naming a rejected service): link
        // again until no new object is rejected. Each pass rejects at least one more object, so this ends.
        while (true)
        {
            var linkReader = new ConfigReader(reader.File);
            var config = ConfigLinker.Link(linkReader, trustDomain,
                Kept(services, s => s.Path), Kept(workloads, w => w.Path),
                Kept(authorizationPolicies, p => p.Path), Kept(peerAuthentications, p => p.Path), generation);
            reader.Errors.AddRange(linkReader.Errors);
            if (config is not null)
            {
                return config with
                {
                    HttpRoutes = ValidL7(httpRoutes, reader, rejected, r => r.Key),
                    GrpcRoutes = ValidL7(grpcRoutes, reader, rejected, r => r.Key),
                    DestinationRules = ValidL7(destinationRules, reader, rejected, r => r.Key),
                    RequestAuthentications = ValidL7(requestAuthentications, reader, rejected, r => r.Key),
                    RejectedObjects = [.. rejected.Order(StringComparer.Ordinal)],
                };
            }
            var before = rejected.Count;
            if (!RejectObjects(linkReader.Errors, rejected) || rejected.Count == before) return null;
        }

        List<T> Kept<T>(List<T> objects, Func<T, string> path) => objects.FindAll(o => !rejected.Contains(path(o)));
    }

    private static readonly string[] ObjectLists =
    [
        "workloads", "services", "authorizationPolicies", "peerAuthentications",
        Routes.RouteConfigParser.HttpRoutesKey, Routes.RouteConfigParser.GrpcRoutesKey,
        Routes.RouteConfigParser.DestinationRulesKey, Routes.RouteConfigParser.RequestAuthenticationsKey,
    ];

    /// <summary>
    /// The valid L7 objects of one list; a second object with the same namespace/name is rejected (as the API
    /// server would refuse it), with the error at its <c>metadata.name</c>.
    /// </summary>
    private static ImmutableArray<T> ValidL7<T>(ImmutableArray<Routes.ParsedConfigObject<T>> parsed, ConfigReader reader, HashSet<string> rejected, Func<T, string> key)
        where T : class
    {
        var result = ImmutableArray.CreateBuilder<T>();
        var seen = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var item in parsed)
        {
            if (item.Value is not { } value || rejected.Contains(item.Path)) continue;
            if (!seen.TryAdd(key(value), item.Path))
            {
                reader.Errors.Add(new ConfigError(reader.File, 0, 0, FieldPath.Field(FieldPath.Field(item.Path, "metadata"), "name"),
                    $"duplicate '{key(value)}' (already defined by {seen[key(value)]})"));
                rejected.Add(item.Path);
                continue;
            }
            result.Add(value);
        }
        return result.ToImmutable();
    }

    /// <summary>Adds the object of each error to <paramref name="rejected"/>; false if an error belongs to no single object.</summary>
    private static bool RejectObjects(List<ConfigError> errors, HashSet<string> rejected)
    {
        foreach (var error in errors)
        {
            var owner = error.ObjectPath;
            var bracket = owner.IndexOf('[');
            if (bracket < 0 || Array.IndexOf(ObjectLists, owner[..bracket]) < 0) return false;
            rejected.Add(owner);
        }
        return true;
    }
}

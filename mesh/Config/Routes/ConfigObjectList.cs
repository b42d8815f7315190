using System.Collections.Immutable;
using YamlDotNet.RepresentationModel;

namespace Ambient.Config.Routes;

/// <summary>
/// Parses a top-level config list (<c>httpRoutes:</c>, <c>grpcRoutes:</c>, ...) item by item, each with its own
/// error list, so one invalid object is rejected alone. Errors are also added to the file's reader, so a loader that
/// rejects a file with any error keeps doing so.
/// </summary>
internal static class ConfigObjectList
{
    /// <summary>An item parser: reads one envelope-shaped mapping and returns the object and its <c>namespace/name</c>.</summary>
    internal delegate (T? Value, string? Key) ItemParser<T>(YamlMap item) where T : class;

    public static ImmutableArray<ParsedConfigObject<T>> ParseAll<T>(YamlMap top, string listKey, ItemParser<T> parse) where T : class
    {
        var result = ImmutableArray.CreateBuilder<ParsedConfigObject<T>>();
        foreach (var (item, path, index) in top.List(listKey))
        {
            var parsed = ParseOne(item, top.Reader.File, path, index, parse);
            top.Reader.Errors.AddRange(parsed.Errors);
            result.Add(parsed);
        }
        return result.ToImmutable();
    }

    /// <summary>One object on its own (a Kubernetes API object converted to YAML, or one list item).</summary>
    public static ParsedConfigObject<T> ParseOne<T>(YamlNode node, string sourceName, string path, int index, ItemParser<T> parse) where T : class
    {
        var reader = new ConfigReader(sourceName);
        T? value = null;
        string? key = null;
        try
        {
            var map = reader.Map(node, path, ObjectEnvelope.Fields);
            if (map is not null) (value, key) = parse(map);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // A parser bug must cost one object, never the whole config or the process.
            reader.Error(node, path, $"internal error while validating this object: {e.GetType().Name}: {e.Message}");
        }
        var errors = reader.Errors.ToImmutableArray();
        return new ParsedConfigObject<T>(index, path, key, errors.IsEmpty ? value : null, errors);
    }
}

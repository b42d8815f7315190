using System.Collections.Immutable;
using YamlDotNet.RepresentationModel;

namespace Ambient.Config;

/// <summary>
/// A YAML mapping with a fixed set of allowed fields. Construction reports unknown fields (with a "did you mean"
/// suggestion); accessors report missing required fields and type errors through the owning <see cref="ConfigReader"/>.
/// </summary>
internal sealed class YamlMap
{
    private readonly Dictionary<string, (YamlScalarNode Key, YamlNode Value)> _entries = new(StringComparer.Ordinal);

    public YamlMap(ConfigReader reader, YamlMappingNode node, string path, IReadOnlyCollection<string> fields)
    {
        Reader = reader;
        Node = node;
        Path = path;
        foreach (var (key, value) in node.Children)
        {
            if (key is not YamlScalarNode scalarKey || ConfigReader.IsNull(key))
            {
                reader.Error(key, path, $"field names must be strings, got {ConfigReader.Describe(key)}");
                continue;
            }
            var name = scalarKey.Value ?? "";
            if (!fields.Contains(name))
            {
                var suggestion = Suggestions.Closest(name, fields);
                HasUnknownFields = true;
                reader.Error(key, FieldPath.Field(path, name), suggestion is not null
                    ? $"unknown field '{name}' (did you mean '{suggestion}'?)"
                    : $"unknown field '{name}' (expected one of: {string.Join(", ", fields)})");
                continue;
            }
            _entries[name] = (scalarKey, value);
        }
    }

    public ConfigReader Reader { get; }

    /// <summary>True when the mapping had fields outside the allowed set (already reported).</summary>
    public bool HasUnknownFields { get; }

    /// <summary>No allowed field has a non-null value (and no unknown field was written either).</summary>
    public bool IsEffectivelyEmpty => !HasUnknownFields && _entries.Values.All(e => ConfigReader.IsNull(e.Value));

    public YamlMappingNode Node { get; }

    public string Path { get; }

    public string PathOf(string key) => FieldPath.Field(Path, key);

    /// <summary>The value, or null when the field is absent or YAML null.</summary>
    public YamlNode? Get(string key) =>
        _entries.TryGetValue(key, out var entry) && !ConfigReader.IsNull(entry.Value) ? entry.Value : null;

    public YamlScalarNode? KeyNode(string key) => _entries.TryGetValue(key, out var entry) ? entry.Key : null;

    /// <summary>The value node if present (even YAML null), else the key node, else the mapping: the best place to point at.</summary>
    public YamlNode Locate(string key) =>
        _entries.TryGetValue(key, out var entry) ? entry.Value : Node;

    public void Missing(string key)
    {
        if (_entries.TryGetValue(key, out var entry))
            Reader.Error(entry.Value, PathOf(key), $"required field '{key}' is empty");
        else
            Reader.Error(Node, PathOf(key), $"missing required field '{key}'");
    }

    public string? String(string key, bool required = false)
    {
        var node = Get(key);
        if (node is null)
        {
            if (required) Missing(key);
            return null;
        }
        var text = Reader.Scalar(node, PathOf(key));
        if (text is { Length: 0 } && required)
        {
            Reader.Error(node, PathOf(key), $"required field '{key}' is empty");
            return null;
        }
        return text;
    }

    /// <summary>A string field that must satisfy a naming rule (DNS label, subdomain, ...).</summary>
    public string? Name(string key, Func<string, bool> isValid, string rule, bool required = true)
    {
        var text = String(key, required);
        if (text is null) return null;
        if (!isValid(text))
        {
            Reader.Error(Get(key)!, PathOf(key), $"'{text}' is not a valid {key}: {rule}");
            return null;
        }
        return text;
    }

    public YamlMap? Map(string key, IReadOnlyCollection<string> fields, bool required = false)
    {
        var node = Get(key);
        if (node is null)
        {
            if (required) Missing(key);
            return null;
        }
        return Reader.Map(node, PathOf(key), fields);
    }

    public IEnumerable<(YamlNode Item, string Path, int Index)> List(string key, bool required = false)
    {
        var node = Get(key);
        if (node is null)
        {
            if (required) Missing(key);
            return [];
        }
        return Reader.Items(node, PathOf(key));
    }

    public ImmutableArray<string> Strings(string key, Func<string, string?>? validate = null)
    {
        var node = Get(key);
        return node is null ? [] : Reader.Strings(node, PathOf(key), validate);
    }
}

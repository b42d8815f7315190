using System.Collections.Immutable;
using System.Globalization;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Ambient.Config;

/// <summary>
/// Typed, error-collecting access to a YamlDotNet representation tree (no reflection, NativeAOT-safe).
/// Every read that fails records a <see cref="ConfigError"/> at the offending node and returns null/empty,
/// so parsing continues and all problems are reported in one pass.
/// </summary>
internal sealed class ConfigReader(string file)
{
    public string File { get; } = file;

    public List<ConfigError> Errors { get; } = [];

    public void Error(YamlNode node, string path, string message) => Error(node.Start, path, message);

    public void Error(Mark mark, string path, string message) =>
        Errors.Add(new ConfigError(File, ToInt(mark.Line), ToInt(mark.Column), path, message));

    private static int ToInt(long value) => (int)Math.Clamp(value, 0, int.MaxValue);

    /// <summary>YAML null: missing node, <c>~</c>, <c>null</c>, or an empty plain scalar (<c>key:</c>).</summary>
    public static bool IsNull(YamlNode? node)
    {
        if (node is null) return true;
        if (node is not YamlScalarNode scalar) return false;
        if (!node.Tag.IsEmpty && !node.Tag.IsNonSpecific) return node.Tag.Value == "tag:yaml.org,2002:null";
        return scalar.Style is ScalarStyle.Plain or ScalarStyle.Any
            && scalar.Value is null or "" or "~" or "null" or "Null" or "NULL";
    }

    /// <summary>Human description of a node's YAML type, for "expected X, got Y" messages.</summary>
    public static string Describe(YamlNode node)
    {
        switch (node)
        {
            case YamlMappingNode: return "a mapping";
            case YamlSequenceNode: return "a list";
            case YamlScalarNode s when IsNull(s): return "null";
            case YamlScalarNode { Style: ScalarStyle.Plain } s:
                var v = s.Value ?? "";
                if (v is "true" or "false" or "True" or "False" or "TRUE" or "FALSE") return "a boolean";
                if (double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out _)) return "a number";
                return "a string";
            default: return "a string";
        }
    }

    public YamlMap? Map(YamlNode node, string path, IReadOnlyCollection<string> fields)
    {
        if (node is YamlMappingNode mapping) return new YamlMap(this, mapping, path, fields);
        Error(node, path, $"expected a mapping, got {Describe(node)}");
        return null;
    }

    /// <summary>Items of a list node with their paths; reports a type error for non-lists.</summary>
    public IEnumerable<(YamlNode Item, string Path, int Index)> Items(YamlNode node, string path)
    {
        if (node is not YamlSequenceNode sequence)
        {
            Error(node, path, $"expected a list, got {Describe(node)}");
            yield break;
        }
        var index = 0;
        foreach (var item in sequence.Children)
        {
            yield return (item, FieldPath.Index(path, index), index);
            index++;
        }
    }

    /// <summary>Entries of a free-form mapping (labels, port maps, ...). Keys must be scalars.</summary>
    public IEnumerable<(YamlScalarNode Key, string KeyText, YamlNode Value, string Path)> Entries(YamlNode node, string path)
    {
        if (node is not YamlMappingNode mapping)
        {
            Error(node, path, $"expected a mapping, got {Describe(node)}");
            yield break;
        }
        foreach (var (key, value) in mapping.Children)
        {
            if (key is not YamlScalarNode scalarKey || IsNull(key))
            {
                Error(key, path, $"mapping keys must be non-empty strings, got {Describe(key)}");
                continue;
            }
            var text = scalarKey.Value ?? "";
            yield return (scalarKey, text, value, FieldPath.Field(path, text));
        }
    }

    /// <summary>A scalar's text; null (with an error) for mappings, lists and YAML null.</summary>
    public string? Scalar(YamlNode node, string path, string expected = "a string")
    {
        if (node is YamlScalarNode scalar && !IsNull(scalar)) return scalar.Value ?? "";
        Error(node, path, $"expected {expected}, got {Describe(node)}");
        return null;
    }

    /// <summary>An integer in [min, max]; quoted digits are accepted too (Istio writes ports as strings).</summary>
    public int? Int(YamlNode node, string path, int min, int max, string what)
    {
        var text = Scalar(node, path, $"{what} (a number {min}-{max})");
        if (text is null) return null;
        return ParseInt(node, path, text, min, max, what);
    }

    public int? ParseInt(YamlNode node, string path, string text, int min, int max, string what)
    {
        if (text.Length is 0 or > 10 || !text.All(char.IsAsciiDigit)
            || !long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value))
        {
            Error(node, path, $"'{text}' is not a valid {what} (expected a number {min}-{max})");
            return null;
        }
        if (value < min || value > max)
        {
            Error(node, path, $"{what} {value} is out of range ({min}-{max})");
            return null;
        }
        return (int)value;
    }

    /// <summary>Case-insensitive enum value; the error lists the valid spellings and suggests the closest.</summary>
    public T? Enum<T>(YamlNode node, string path, string what, IReadOnlyList<(string Name, T Value)> values) where T : struct
    {
        var text = Scalar(node, path, what);
        if (text is null) return null;
        foreach (var (name, value) in values)
        {
            if (string.Equals(name, text, StringComparison.OrdinalIgnoreCase)) return value;
        }
        var names = values.Select(v => v.Name).ToArray();
        var suggestion = Suggestions.Closest(text, names);
        Error(node, path, $"'{text}' is not a valid {what} (expected one of {string.Join(", ", names)}"
                          + (suggestion is null ? ")" : $"; did you mean '{suggestion}'?)"));
        return null;
    }

    /// <summary>A list of non-empty strings; <paramref name="validate"/> returns an error message or null.</summary>
    public ImmutableArray<string> Strings(YamlNode node, string path, Func<string, string?>? validate = null)
    {
        var builder = ImmutableArray.CreateBuilder<string>();
        foreach (var (item, itemPath, _) in Items(node, path))
        {
            var text = Scalar(item, itemPath);
            if (text is null) continue;
            var problem = text.Length == 0 ? "must not be empty" : validate?.Invoke(text);
            if (problem is not null)
            {
                Error(item, itemPath, problem);
                continue;
            }
            builder.Add(text);
        }
        return builder.ToImmutable();
    }

    /// <summary>A string → string mapping (labels, selectors). A null value reads as <c>""</c>.</summary>
    public ImmutableDictionary<string, string> StringMap(
        YamlNode node, string path, Func<string, string?>? validateKey = null, Func<string, string?>? validateValue = null)
    {
        var builder = ImmutableDictionary.CreateBuilder<string, string>(StringComparer.Ordinal);
        foreach (var (keyNode, key, valueNode, entryPath) in Entries(node, path))
        {
            var keyProblem = validateKey?.Invoke(key);
            if (keyProblem is not null)
            {
                Error(keyNode, entryPath, keyProblem);
                continue;
            }
            var value = IsNull(valueNode) ? "" : Scalar(valueNode, entryPath);
            if (value is null) continue;
            var valueProblem = validateValue?.Invoke(value);
            if (valueProblem is not null)
            {
                Error(valueNode, entryPath, valueProblem);
                continue;
            }
            builder[key] = value;
        }
        return builder.ToImmutable();
    }

    /// <summary>Kubernetes label map (key and value syntax checked).</summary>
    public ImmutableDictionary<string, string> Labels(YamlNode node, string path) =>
        StringMap(node, path,
            key => DnsNames.IsLabelKey(key) ? null : $"'{key}' is not a valid label key (an optional DNS subdomain prefix and '/', then at most 63 characters of letters, digits, '-', '_' and '.', starting and ending with a letter or digit)",
            value => DnsNames.IsLabelValue(value) ? null : $"'{value}' is not a valid label value (at most 63 characters of letters, digits, '-', '_' and '.', starting and ending with a letter or digit)");
}

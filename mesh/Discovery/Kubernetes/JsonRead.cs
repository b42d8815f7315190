using System.Collections.Immutable;
using System.Text.Json;

namespace Ambient.Discovery.Kubernetes;

/// <summary>
/// Typed reads from API objects that report a wrong type instead of throwing: each takes the field path used in
/// messages and records a problem (field + message) on the <see cref="ObjectProblems"/> of the object being mapped.
/// </summary>
internal static class JsonRead
{
    public static JsonElement? Get(JsonElement element, string property) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(property, out var value) && value.ValueKind != JsonValueKind.Null
            ? value
            : null;

    public static JsonElement? Path(JsonElement element, params string[] properties)
    {
        JsonElement? current = element;
        foreach (var property in properties)
        {
            if (current is not { } c) return null;
            current = Get(c, property);
        }
        return current;
    }

    public static string? String(JsonElement element, string property, string path, ObjectProblems problems)
    {
        if (Get(element, property) is not { } value) return null;
        if (value.ValueKind == JsonValueKind.String) return value.GetString();
        problems.Add(Join(path, property), $"expected a string, got {Describe(value)}");
        return null;
    }

    public static bool? Bool(JsonElement element, string property, string path, ObjectProblems problems)
    {
        if (Get(element, property) is not { } value) return null;
        if (value.ValueKind is JsonValueKind.True or JsonValueKind.False) return value.GetBoolean();
        problems.Add(Join(path, property), $"expected a boolean, got {Describe(value)}");
        return null;
    }

    /// <summary>An integer in [min, max]; null when absent or (with a problem) invalid.</summary>
    public static int? Int(JsonElement element, string property, string path, int min, int max, ObjectProblems problems)
    {
        if (Get(element, property) is not { } value) return null;
        if (value.ValueKind == JsonValueKind.Number && value.TryGetInt32(out var number) && number >= min && number <= max) return number;
        problems.Add(Join(path, property), value.ValueKind == JsonValueKind.Number
            ? $"{value.GetRawText()} is out of range ({min}-{max})"
            : $"expected a number {min}-{max}, got {Describe(value)}");
        return null;
    }

    public static IEnumerable<(JsonElement Item, string Path)> Items(JsonElement element, string property, string path, ObjectProblems problems)
    {
        if (Get(element, property) is not { } value) yield break;
        var itemsPath = Join(path, property);
        if (value.ValueKind != JsonValueKind.Array)
        {
            problems.Add(itemsPath, $"expected a list, got {Describe(value)}");
            yield break;
        }
        var index = 0;
        foreach (var item in value.EnumerateArray())
        {
            yield return (item, $"{itemsPath}[{index}]");
            index++;
        }
    }

    /// <summary>A string → string map (labels, selectors). Null when absent.</summary>
    public static ImmutableDictionary<string, string>? StringMap(JsonElement element, string property, string path, ObjectProblems problems)
    {
        if (Get(element, property) is not { } value) return null;
        var mapPath = Join(path, property);
        if (value.ValueKind != JsonValueKind.Object)
        {
            problems.Add(mapPath, $"expected a mapping, got {Describe(value)}");
            return null;
        }
        var builder = ImmutableDictionary.CreateBuilder<string, string>(StringComparer.Ordinal);
        foreach (var entry in value.EnumerateObject())
        {
            if (entry.Value.ValueKind == JsonValueKind.String) builder[entry.Name] = entry.Value.GetString()!;
            else if (entry.Value.ValueKind == JsonValueKind.Null) builder[entry.Name] = "";
            else problems.Add(Config.FieldPath.Field(mapPath, entry.Name), $"expected a string, got {Describe(entry.Value)}");
        }
        return builder.ToImmutable();
    }

    public static string Join(string path, string property) => Config.FieldPath.Field(path, property);

    public static string Describe(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.Object => "a mapping",
        JsonValueKind.Array => "a list",
        JsonValueKind.String => "a string",
        JsonValueKind.Number => "a number",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        _ => "null",
    };
}

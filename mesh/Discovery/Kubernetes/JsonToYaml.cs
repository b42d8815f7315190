using System.Text.Json;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Ambient.Discovery.Kubernetes;

/// <summary>
/// Converts JSON from the API into the YAML representation tree the config parsers read, keeping JSON's types: strings
/// become quoted scalars (so <c>"8080"</c> stays a string and <c>"null"</c> is not null), numbers, booleans and null plain.
/// </summary>
internal static class JsonToYaml
{
    public static YamlNode Convert(JsonElement element)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.Object:
                var map = new YamlMappingNode();
                foreach (var property in element.EnumerateObject()) map.Add(Quoted(property.Name), Convert(property.Value));
                return map;
            case JsonValueKind.Array:
                var list = new YamlSequenceNode();
                foreach (var item in element.EnumerateArray()) list.Add(Convert(item));
                return list;
            case JsonValueKind.String:
                return Quoted(element.GetString()!);
            case JsonValueKind.True:
                return Plain("true");
            case JsonValueKind.False:
                return Plain("false");
            case JsonValueKind.Number:
                return Plain(element.GetRawText());
            default:
                return Plain("null");
        }
    }

    public static YamlScalarNode Quoted(string value) => new(value) { Style = ScalarStyle.DoubleQuoted };

    private static YamlScalarNode Plain(string value) => new(value) { Style = ScalarStyle.Plain };
}

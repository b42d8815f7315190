using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Ambient.Tests.Kubernetes;

/// <summary>
/// Turns Kubernetes YAML manifests into the JSON the API server serves, the way kubectl does: plain scalars are typed
/// (null, booleans, integers, floats), quoted scalars stay strings; <c>---</c> separates objects.
/// </summary>
internal static partial class YamlJson
{
    public static List<JsonObject> ParseAll(string yaml)
    {
        var stream = new YamlStream();
        stream.Load(new StringReader(yaml));
        return [.. stream.Documents
            .Where(d => d.RootNode is YamlMappingNode)
            .Select(d => (JsonObject)Convert(d.RootNode)!)];
    }

    public static JsonObject Parse(string yaml) => ParseAll(yaml).Single();

    public static List<JsonObject> LoadFixture(string name) =>
        ParseAll(File.ReadAllText(Path.Combine(Config.ConfigTestHelpers.RepoRoot(), "tests", "Ambient.Tests", "Kubernetes", "Fixtures", name)));

    private static JsonNode? Convert(YamlNode node)
    {
        switch (node)
        {
            case YamlMappingNode map:
                var obj = new JsonObject();
                foreach (var (key, value) in map.Children) obj[((YamlScalarNode)key).Value!] = Convert(value);
                return obj;
            case YamlSequenceNode list:
                var array = new JsonArray();
                foreach (var item in list.Children) array.Add(Convert(item));
                return array;
            case YamlScalarNode scalar:
                var text = scalar.Value ?? "";
                if (scalar.Style is not (ScalarStyle.Plain or ScalarStyle.Any)) return JsonValue.Create(text);
                if (text is "" or "~" or "null" or "Null" or "NULL") return null;
                if (text is "true" or "True" or "TRUE") return JsonValue.Create(true);
                if (text is "false" or "False" or "FALSE") return JsonValue.Create(false);
                if (IntegerPattern().IsMatch(text)) return JsonValue.Create(long.Parse(text, CultureInfo.InvariantCulture));
                if (FloatPattern().IsMatch(text)) return JsonValue.Create(double.Parse(text, CultureInfo.InvariantCulture));
                return JsonValue.Create(text);
            default:
                throw new NotSupportedException(node.GetType().Name);
        }
    }

    [GeneratedRegex(@"^-?(0|[1-9][0-9]*)$")]
    private static partial Regex IntegerPattern();

    [GeneratedRegex(@"^-?(0|[1-9][0-9]*)(\.[0-9]*)?([eE][-+]?[0-9]+)?$")]
    private static partial Regex FloatPattern();
}

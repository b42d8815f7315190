using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace Ambient.Cni;

/// <summary>The VERSION result: <c>{"cniVersion":"1.1.0","supportedVersions":[…]}</c>.</summary>
internal sealed record VersionResult(string CniVersion, IReadOnlyList<string> SupportedVersions);

/// <summary>The spec's error result as printed.</summary>
internal sealed record ErrorResult(string CniVersion, int Code, string Msg, string? Details);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(VersionResult))]
[JsonSerializable(typeof(ErrorResult))]
internal sealed partial class CniJsonContext : JsonSerializerContext;

/// <summary>
/// Renders what the plugin prints on stdout (source-generated serialization only, so NativeAOT works). Quotes and
/// non-ASCII characters in messages are written as they are (<c>"</c> as <c>\"</c>, not <c>\u0022</c>), so the output
/// stays readable in runtime logs.
/// </summary>
internal static class CniJson
{
    private static readonly CniJsonContext Context = new(new JsonSerializerOptions
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        WriteIndented = true,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    });

    public static string Version() =>
        JsonSerializer.Serialize(new VersionResult(CniVersions.Current, CniVersions.Supported), Context.VersionResult);

    public static string Error(CniError error) =>
        JsonSerializer.Serialize(
            new ErrorResult(error.CniVersion ?? CniVersions.Current, error.Code, error.Msg, error.Details),
            Context.ErrorResult);

    public static string Write(JsonNode node)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
            node.WriteTo(writer);
        return Encoding.UTF8.GetString(buffer.ToArray());
    }
}

using System.Globalization;
using System.Text.Json;

namespace Ambient.Ctl.Formatters;

/// <summary>
/// Reading the admin API's JSON leniently for display: a missing field is an empty cell, not a crash, so a daemon
/// one version ahead or behind still prints (the user can always fall back to <c>-o json</c>).
/// </summary>
public static class JsonText
{
    public static string String(JsonElement element, string name) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out var value)
            ? value.ValueKind switch
            {
                JsonValueKind.String => value.GetString() ?? "",
                JsonValueKind.Number or JsonValueKind.True or JsonValueKind.False => value.GetRawText(),
                _ => "",
            }
            : "";

    /// <summary>The elements of an array property (none if it is missing or not an array).</summary>
    public static IEnumerable<JsonElement> Items(JsonElement element, string name) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Array
            ? value.EnumerateArray()
            : [];

    /// <summary>The properties of an object property (none if it is missing or not an object).</summary>
    public static IEnumerable<JsonProperty> Properties(JsonElement element, string name) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Object
            ? value.EnumerateObject()
            : [];

    public static JsonElement Object(JsonElement element, string name) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out var value) ? value : default;

    /// <summary>A string array property as one comma-separated cell.</summary>
    public static string Joined(JsonElement element, string name) =>
        string.Join(",", Items(element, name).Select(e => e.ValueKind == JsonValueKind.String ? e.GetString() : e.GetRawText()));

    /// <summary>A label map as <c>k=v,k=v</c>, the way kubectl writes selectors.</summary>
    public static string Labels(JsonElement element, string name) =>
        string.Join(",", Properties(element, name).Select(p => $"{p.Name}={p.Value.GetString()}"));

    /// <summary>A duration as kubectl writes ages: the two largest units, e.g. <c>23h59m</c>, <c>6d2h</c>, <c>45s</c>.</summary>
    public static string Duration(long seconds)
    {
        if (seconds <= 0) return "expired";
        var t = TimeSpan.FromSeconds(seconds);
        return t.TotalDays >= 1 ? $"{(int)t.TotalDays}d{t.Hours}h"
            : t.TotalHours >= 1 ? $"{t.Hours}h{t.Minutes}m"
            : t.TotalMinutes >= 1 ? $"{t.Minutes}m{t.Seconds}s"
            : $"{t.Seconds}s";
    }

    public static string Number(int n) => n.ToString(CultureInfo.InvariantCulture);
}

using Ambient.Config.Routes;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Primitives;

namespace Ambient.Waypoint.Routing;

/// <summary>
/// Applies a RequestHeaderModifier/ResponseHeaderModifier to a header dictionary, in the order set (replace),
/// add (append a value, keeping existing ones), remove. Header names are case-insensitive in the dictionary.
/// </summary>
public static class HeaderModifierApplier
{
    public static void Apply(HeaderModifier modifier, IHeaderDictionary headers)
    {
        foreach (var header in modifier.Set) headers[header.Name] = header.Value;
        foreach (var header in modifier.Add)
        {
            headers[header.Name] = headers.TryGetValue(header.Name, out var existing) && !StringValues.IsNullOrEmpty(existing)
                ? StringValues.Concat(existing, header.Value)
                : new StringValues(header.Value);
        }
        foreach (var name in modifier.Remove) headers.Remove(name);
    }
}

using System.Collections.Immutable;

namespace Ambient.Config.Routes;

/// <summary>
/// One item of a config list after validation. <see cref="Value"/> is null exactly when the item had errors, so a
/// caller can drop the bad object and keep the rest. Field paths in <see cref="Errors"/> start with the item's path
/// (<c>httpRoutes[2].spec.rules[0]...</c>, or <c>spec.rules[0]...</c> for a standalone object).
/// </summary>
public sealed record ParsedConfigObject<T>(int Index, string Path, string? Key, T? Value, ImmutableArray<ConfigError> Errors)
    where T : class
{
    public bool Ok => Value is not null;

    /// <summary><c>ambient.yaml:12:9: httpRoutes[2] default/reviews: spec.rules[0].backendRefs[1].weight: ...</c></summary>
    public string Describe(ConfigError error)
    {
        var position = error.Line > 0 ? $"{error.File}:{error.Line}:{error.Column}" : error.File;
        var field = error.FieldPath.StartsWith(Path, StringComparison.Ordinal) ? error.FieldPath[Path.Length..].TrimStart('.') : error.FieldPath;
        var owner = Path.Length == 0 ? Key ?? "" : Key is null ? Path : $"{Path} {Key}";
        var prefix = owner.Length == 0 ? position : $"{position}: {owner}";
        return field.Length == 0 ? $"{prefix}: {error.Message}" : $"{prefix}: {field}: {error.Message}";
    }
}

using System.Collections.Immutable;

namespace Ambient.Config;

/// <summary>
/// Outcome of one load. <see cref="Config"/> is null when the file as a whole was unusable (syntax, file-level
/// fields); otherwise it holds every valid object and <see cref="Errors"/> explains each object left out
/// (<see cref="MeshConfig.RejectedObjects"/>). Errors are sorted by position.
/// </summary>
public sealed record ConfigLoadResult(MeshConfig? Config, ImmutableArray<ConfigError> Errors)
{
    /// <summary>Loaded with no error at all.</summary>
    public bool Ok => Config is not null && Errors.IsEmpty;

    /// <summary>A config came out (possibly with some objects rejected) and can be applied.</summary>
    public bool Usable => Config is not null;

    internal static ConfigLoadResult Failed(ConfigError error) => new(null, [error]);
}

using System.Collections.Immutable;

namespace Ambient.Config;

/// <summary>
/// Outcome of one load. A file with any error is rejected as a whole: <see cref="Config"/> is then null and
/// <see cref="Errors"/> holds every problem found (sorted by position).
/// </summary>
public sealed record ConfigLoadResult(MeshConfig? Config, ImmutableArray<ConfigError> Errors)
{
    public bool Ok => Config is not null && Errors.IsEmpty;

    internal static ConfigLoadResult Failed(ConfigError error) => new(null, [error]);
}

namespace Ambient.LoadBalancing;

/// <summary>
/// The candidate pool <see cref="LocalityPreference.Select"/> chose: <paramref name="Count"/> endpoints of
/// <paramref name="Tier"/> that are available (admitted, or half-open with no trial in flight). In
/// <paramref name="Panic"/> mode no endpoint at all was available, so the pool is every endpoint and
/// <paramref name="Tier"/> is <see cref="LocalityTier.Any"/>.
/// </summary>
public readonly record struct LocalitySelection(LocalityTier Tier, int Count, bool Panic);

using Ambient.Config;

namespace Ambient.LoadBalancing;

/// <summary>
/// The outcome of <see cref="LoadBalancer.Pick"/>: the endpoint (and its index in the span given) and why.
/// <paramref name="Tier"/> is the chosen endpoint's locality relative to the client; <paramref name="Candidates"/> the
/// size of the pool it was drawn from; <paramref name="Panic"/> that every endpoint was ejected so all were used;
/// <paramref name="Probe"/> that this connection is the half-open trial of an endpoint whose back-off has elapsed.
/// </summary>
public readonly record struct LoadBalancerPick(
    EndpointTarget Endpoint,
    int Index,
    LocalityTier Tier,
    PickStrategy Strategy,
    int Candidates,
    bool Panic,
    bool Probe)
{
    /// <summary>Short reason for logs, e.g. <c>zone p2c/3</c>, <c>any single/1 panic</c>, <c>node p2c/2 probe</c>.</summary>
    public string Reason =>
        $"{Tier.ToString().ToLowerInvariant()} {(Strategy == PickStrategy.PowerOfTwoChoices ? "p2c" : "single")}/{Candidates}{(Panic ? " panic" : "")}{(Probe ? " probe" : "")}";
}

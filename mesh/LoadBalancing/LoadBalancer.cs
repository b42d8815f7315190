using System.Buffers;
using System.Runtime.CompilerServices;
using Ambient.Config;

namespace Ambient.LoadBalancing;

/// <summary>
/// Picks the endpoint of a service connection: <see cref="LocalityPreference"/> chooses the pool (nearest tier with
/// an available endpoint; all endpoints in panic), then power-of-two-choices on open connections within it. Pick
/// does not allocate and does not lock; it reads the shared <see cref="EndpointHealthRegistry"/>. Thread-safe as
/// long as the <see cref="Random"/> given is (use <see cref="Random.Shared"/> on the data path).
/// </summary>
public sealed class LoadBalancer(EndpointHealthRegistry health)
{
    /// <summary>Pools up to this many endpoints are classified on the stack; larger ones rent from <see cref="ArrayPool{T}.Shared"/>.</summary>
    private const int StackLimit = 256;

    public LoadBalancer() : this(new EndpointHealthRegistry())
    {
    }

    public EndpointHealthRegistry Health { get; } = health;

    /// <summary>
    /// Chooses one of <paramref name="endpoints"/> (non-empty) for <paramref name="client"/>. Take a lease with
    /// <see cref="Lease"/> right away and report the connect outcome.
    /// </summary>
    [SkipLocalsInit] // Select writes every pool byte it later reads
    public LoadBalancerPick Pick(ReadOnlySpan<EndpointTarget> endpoints, Workload client, Random rng)
    {
        if (endpoints.IsEmpty) throw new ArgumentException("no endpoints to pick from", nameof(endpoints));
        byte[]? rented = null;
        var pool = endpoints.Length <= StackLimit
            ? stackalloc byte[StackLimit]
            : (rented = ArrayPool<byte>.Shared.Rent(endpoints.Length));
        try
        {
            var selection = LocalityPreference.Select(endpoints, client, Health, pool);
            int chosen;
            PickStrategy strategy;
            if (selection.Count == 1)
            {
                chosen = pool[..endpoints.Length].IndexOf((byte)1);
                strategy = PickStrategy.Single;
            }
            else
            {
                // An ordered pair of distinct members, uniformly at random; on a tie the first wins, which is itself
                // a uniformly random choice between the two.
                var first = rng.Next(selection.Count);
                var second = rng.Next(selection.Count - 1);
                if (second >= first) second++;
                var (a, b) = Members(pool[..endpoints.Length], first, second);
                chosen = Health.OpenConnections(endpoints[b]) < Health.OpenConnections(endpoints[a]) ? b : a;
                strategy = PickStrategy.PowerOfTwoChoices;
            }

            var endpoint = endpoints[chosen];
            var probe = !selection.Panic && Health.NotAdmittedCount != 0
                && Health.Find(endpoint) is { } entry && entry.TryClaimProbe(Health.Time.GetTimestamp());
            var tier = selection.Panic ? LocalityPreference.Rank(client, endpoint.Workload) : selection.Tier;
            return new LoadBalancerPick(endpoint, chosen, tier, strategy, selection.Count, selection.Panic, probe);
        }
        finally
        {
            if (rented is not null) ArrayPool<byte>.Shared.Return(rented);
        }
    }

    /// <summary>Counts a connection to <paramref name="endpoint"/> until disposed (what p2c compares).</summary>
    public ConnectionLease Lease(in EndpointTarget endpoint) => Health.Lease(endpoint);

    /// <summary>The connect to <paramref name="endpoint"/> succeeded.</summary>
    public void ReportSuccess(in EndpointTarget endpoint) => Health.ReportSuccess(endpoint);

    /// <summary>The connect to <paramref name="endpoint"/> failed.</summary>
    public void ReportFailure(in EndpointTarget endpoint) => Health.ReportFailure(endpoint);

    /// <summary>Indexes of the <paramref name="first"/>-th and <paramref name="second"/>-th members (0-based) of the pool, in one scan.</summary>
    private static (int, int) Members(ReadOnlySpan<byte> pool, int first, int second)
    {
        int a = -1, b = -1, seen = 0;
        for (var i = 0; i < pool.Length; i++)
        {
            if (pool[i] == 0) continue;
            if (seen == first) a = i;
            if (seen == second) b = i;
            if (a >= 0 && b >= 0) break;
            seen++;
        }
        return (a, b);
    }
}

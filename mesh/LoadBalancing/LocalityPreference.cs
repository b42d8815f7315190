using Ambient.Config;

namespace Ambient.LoadBalancing;

/// <summary>
/// Locality-aware failover: rank each endpoint against the client (same node, same region+zone, same region, any)
/// and use the best tier that has at least one available endpoint. When every endpoint is ejected, use all of them
/// ("panic": ejection alone never refuses a connection). Subzone and network are not considered.
/// </summary>
public static class LocalityPreference
{
    private const byte AvailableBit = 4;
    private const byte TierMask = 3;

    /// <summary>How close <paramref name="endpoint"/> is to <paramref name="client"/>.</summary>
    public static LocalityTier Rank(Workload client, Workload endpoint)
    {
        if (string.Equals(client.Node, endpoint.Node, StringComparison.Ordinal)) return LocalityTier.Node;
        var near = client.Locality;
        var far = endpoint.Locality;
        if (near.Region.Length == 0 || !string.Equals(near.Region, far.Region, StringComparison.Ordinal)) return LocalityTier.Any;
        return near.Zone.Length > 0 && string.Equals(near.Zone, far.Zone, StringComparison.Ordinal) ? LocalityTier.Zone : LocalityTier.Region;
    }

    /// <summary>
    /// Chooses the candidate pool among <paramref name="endpoints"/> without allocating. On return
    /// <c>pool[i]</c> is 1 for members and 0 otherwise; <paramref name="pool"/> must be at least as long as
    /// <paramref name="endpoints"/>. <paramref name="health"/> null means every endpoint is admitted.
    /// </summary>
    public static LocalitySelection Select(ReadOnlySpan<EndpointTarget> endpoints, Workload client, EndpointHealthRegistry? health, Span<byte> pool)
    {
        if (pool.Length < endpoints.Length) throw new ArgumentException("pool is shorter than endpoints", nameof(pool));
        var checkHealth = health is not null && health.NotAdmittedCount != 0;
        var now = checkHealth ? health!.Time.GetTimestamp() : 0;

        int available0 = 0, available1 = 0, available2 = 0, available3 = 0;
        for (var i = 0; i < endpoints.Length; i++)
        {
            var tier = Rank(client, endpoints[i].Workload);
            var available = !checkHealth || health!.Find(endpoints[i]) is not { } entry || entry.IsAvailable(now);
            pool[i] = (byte)((byte)tier | (available ? AvailableBit : 0));
            if (!available) continue;
            switch (tier)
            {
                case LocalityTier.Node: available0++; break;
                case LocalityTier.Zone: available1++; break;
                case LocalityTier.Region: available2++; break;
                default: available3++; break;
            }
        }

        var (chosen, count) =
            available0 > 0 ? (LocalityTier.Node, available0)
            : available1 > 0 ? (LocalityTier.Zone, available1)
            : available2 > 0 ? (LocalityTier.Region, available2)
            : available3 > 0 ? (LocalityTier.Any, available3)
            : (LocalityTier.Any, 0);

        if (count == 0)
        {
            pool[..endpoints.Length].Fill(1);
            return new LocalitySelection(LocalityTier.Any, endpoints.Length, Panic: true);
        }
        var member = (byte)((byte)chosen | AvailableBit);
        for (var i = 0; i < endpoints.Length; i++)
            pool[i] = pool[i] == member ? (byte)1 : (byte)0;
        return new LocalitySelection(chosen, count, Panic: false);
    }
}

namespace Ambient.Cni.Agent;

/// <summary>Installs and removes a pod's redirect rules (one nftables table) inside its network namespace.</summary>
public static class PodRedirection
{
    public static void Install(string netnsPath)
    {
        // Replace, never stack: an agent restart or a repeated ADD must leave exactly one copy.
        if (IsInstalled(netnsPath))
            Nft.Apply(netnsPath, RedirectRules.DeletePod());
        Nft.Apply(netnsPath, RedirectRules.Pod());
    }

    public static void Remove(string netnsPath)
    {
        if (IsInstalled(netnsPath))
            Nft.Apply(netnsPath, RedirectRules.DeletePod());
    }

    public static bool IsInstalled(string netnsPath) => Nft.HasTable(netnsPath, "inet", RedirectRules.PodTable);

    /// <summary>(Re)creates the node's probe SNAT table, empty, in the agent's own (node) namespace.</summary>
    public static void InstallNode()
    {
        if (Nft.HasTable(null, "ip", RedirectRules.NodeTable))
            Nft.Apply(null, RedirectRules.DeleteNode());
        Nft.Apply(null, RedirectRules.Node());
    }

    public static void AddProbeTargets(IEnumerable<string> ips)
    {
        foreach (var ip in ips)
            if (System.Net.IPAddress.TryParse(ip, out var a) && a.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork)
                Nft.Apply(null, RedirectRules.AddProbeTarget(ip));
    }

    public static void RemoveProbeTargets(IEnumerable<string> ips)
    {
        foreach (var ip in ips)
        {
            if (!System.Net.IPAddress.TryParse(ip, out var a) || a.AddressFamily != System.Net.Sockets.AddressFamily.InterNetwork)
                continue;
            try { Nft.Apply(null, RedirectRules.RemoveProbeTarget(ip)); }
            catch (IOException) { } // already gone
        }
    }
}

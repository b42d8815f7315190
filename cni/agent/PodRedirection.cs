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
}

using System.Text;

namespace Ambient.Cni.Agent;

/// <summary>
/// The in-pod redirection of DESIGN.md §4 as one nftables table, so installing is one atomic `nft -f` and
/// removing is one `delete table` that leaves nothing behind. Pure text generation; the agent applies it.
/// </summary>
public static class RedirectRules
{
    public const string PodTable = "ambient";
    public const string NodeTable = "ambient_node";
    /// <summary>SO_MARK on the daemon's own sockets in the pod: never redirected.</summary>
    public const int DaemonMark = 0x539;
    /// <summary>Connection mark for connections the daemon made, so their replies are not redirected either.</summary>
    public const int ConnMark = 0x111;
    public const int MarkMask = 0xfff;
    /// <summary>Kubelet probes are SNATed to this address on the node so pods let them through unredirected.</summary>
    public const string ProbeSource = "169.254.7.127";

    public static string Pod(int outboundPort = 15001, int inboundPlaintextPort = 15006, int hbonePort = 15008)
    {
        var sb = new StringBuilder();
        sb.Append($"table inet {PodTable} {{\n");
        // Connections the daemon opened (marked) are remembered in conntrack…
        sb.Append("  chain prerouting_mangle {\n    type filter hook prerouting priority mangle; policy accept;\n");
        sb.Append($"    meta mark & 0x{MarkMask:x} == 0x{DaemonMark:x} ct mark set ct mark & 0xfffff000 | 0x{ConnMark:x}\n  }}\n");
        sb.Append("  chain output_mangle {\n    type route hook output priority mangle; policy accept;\n");
        sb.Append($"    meta mark & 0x{MarkMask:x} == 0x{DaemonMark:x} ct mark set ct mark & 0xfffff000 | 0x{ConnMark:x}\n");
        sb.Append($"    ct mark & 0x{MarkMask:x} == 0x{ConnMark:x} meta mark set meta mark & 0xfffff000 | 0x{DaemonMark:x}\n  }}\n");
        // Inbound: everything TCP to the pod goes to the daemon's inbound plaintext port, except HBONE, the
        // daemon's own traffic and kubelet probes.
        sb.Append("  chain prerouting_nat {\n    type nat hook prerouting priority dstnat; policy accept;\n");
        sb.Append($"    ip saddr {ProbeSource} accept\n");
        sb.Append($"    meta mark & 0x{MarkMask:x} == 0x{DaemonMark:x} accept\n");
        sb.Append($"    meta l4proto tcp ip daddr != 127.0.0.1 tcp dport != {hbonePort} redirect to :{inboundPlaintextPort}\n  }}\n");
        // Outbound: the application's TCP goes to the daemon's outbound port; the daemon's own sockets and
        // replies to connections the daemon made pass.
        sb.Append("  chain output_nat {\n    type nat hook output priority -100; policy accept;\n");
        sb.Append($"    ct mark & 0x{MarkMask:x} == 0x{ConnMark:x} accept\n");
        sb.Append($"    meta mark & 0x{MarkMask:x} == 0x{DaemonMark:x} accept\n");
        sb.Append("    oifname \"lo\" ip daddr != 127.0.0.1 accept\n");
        sb.Append($"    meta l4proto tcp ip daddr != 127.0.0.1 redirect to :{outboundPort}\n  }}\n");
        sb.Append("}\n");
        return sb.ToString();
    }

    /// <summary>
    /// Node side: connections the node itself makes to its enrolled pods (kubelet probes) leave with
    /// <see cref="ProbeSource"/>, which the pods let through unredirected — so probes work even under STRICT mTLS.
    /// The enrolled pods are the set <c>pods</c>, updated with <see cref="AddProbeTarget"/>/<see cref="RemoveProbeTarget"/>.
    /// </summary>
    public static string Node()
        => $"table ip {NodeTable} {{\n  set pods {{ type ipv4_addr; }}\n  chain postrouting {{\n" +
           "    type nat hook postrouting priority srcnat; policy accept;\n" +
           $"    fib saddr type local ip daddr @pods snat to {ProbeSource}\n  }}\n}}\n";

    public static string AddProbeTarget(string ip) => $"add element ip {NodeTable} pods {{ {ip} }}\n";
    public static string RemoveProbeTarget(string ip) => $"delete element ip {NodeTable} pods {{ {ip} }}\n";

    public static string DeletePod() => $"delete table inet {PodTable}\n";
    public static string DeleteNode() => $"delete table ip {NodeTable}\n";
}

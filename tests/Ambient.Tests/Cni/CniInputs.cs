using System.Text.Json.Nodes;

namespace Ambient.Tests.Cni;

/// <summary>Invocations as a runtime makes them: CNI_* environments and plugin configurations per spec version.</summary>
internal static class CniInputs
{
    public const string ContainerId = "4f3a9c0d2e1b7a6f5e4d3c2b1a0f9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f";
    public const string Netns = "/var/run/netns/cni-0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0";
    public const string PodUid = "6c1e2f3a-4b5c-4d6e-8f70-8192a3b4c5d6";
    public const string CniArgs = $"IgnoreUnknown=1;K8S_POD_NAMESPACE=shop;K8S_POD_NAME=web-0;K8S_POD_INFRA_CONTAINER_ID={ContainerId};K8S_POD_UID={PodUid}";

    public static readonly string[] Versions = ["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"];

    public static IEnumerable<object[]> EachVersion() => Versions.Select(v => new object[] { v });

    /// <summary>The environment for ADD/DEL/CHECK, as kubelet's runtime sets it.</summary>
    public static Dictionary<string, string?> Env(string command) => new()
    {
        ["CNI_COMMAND"] = command,
        ["CNI_CONTAINERID"] = ContainerId,
        ["CNI_NETNS"] = Netns,
        ["CNI_IFNAME"] = "eth0",
        ["CNI_ARGS"] = CniArgs,
        ["CNI_PATH"] = "/opt/cni/bin",
    };

    public static Dictionary<string, string?> Without(this Dictionary<string, string?> env, params string[] names)
    {
        foreach (var n in names) env.Remove(n);
        return env;
    }

    public static Dictionary<string, string?> With(this Dictionary<string, string?> env, string name, string? value)
    {
        env[name] = value;
        return env;
    }

    /// <summary>
    /// What a primary plugin (ptp + host-local) returns under <paramref name="version"/>: 0.3.x/0.4.0 results carry
    /// <c>ips[].version</c>, 1.x results do not. Two addresses (IPv4, IPv6), a host and a sandbox interface.
    /// </summary>
    public static JsonObject PrevResult(string version)
    {
        bool legacy = version.StartsWith("0.", StringComparison.Ordinal);
        JsonObject Ip(string address, string gateway, string family)
        {
            var ip = new JsonObject();
            if (legacy) ip["version"] = family;
            ip["interface"] = 1;
            ip["address"] = address;
            ip["gateway"] = gateway;
            return ip;
        }
        return new JsonObject
        {
            ["cniVersion"] = version,
            ["interfaces"] = new JsonArray(
                new JsonObject { ["name"] = "veth4f3a9c0d", ["mac"] = "ae:3c:11:22:33:44" },
                new JsonObject { ["name"] = "eth0", ["mac"] = "0a:58:0a:01:00:05", ["sandbox"] = Netns }),
            ["ips"] = new JsonArray(Ip("10.1.0.5/24", "10.1.0.1", "4"), Ip("fd00:10:1::5/64", "fd00:10:1::1", "6")),
            ["routes"] = new JsonArray(new JsonObject { ["dst"] = "0.0.0.0/0", ["gw"] = "10.1.0.1" }),
            ["dns"] = new JsonObject { ["nameservers"] = new JsonArray("10.96.0.10"), ["search"] = new JsonArray("shop.svc.cluster.local") },
        };
    }

    /// <summary>The plugin configuration the runtime derives for ambient-cni, with the primary plugin's result.</summary>
    public static JsonObject Config(string version = "1.0.0", bool withPrevResult = true, string? socket = null, bool? failOpen = null, string? logLevel = null)
    {
        var config = new JsonObject
        {
            ["cniVersion"] = version,
            ["name"] = "k8s-pod-network",
            ["type"] = "ambient-cni",
        };
        if (socket is not null) config["agentSocket"] = socket;
        if (failOpen is not null) config["failOpen"] = failOpen.Value;
        if (logLevel is not null) config["logLevel"] = logLevel;
        config["args"] = new JsonObject { ["cni"] = new JsonObject { ["labels"] = new JsonArray("a") } }; // runtime-inserted, ignored
        if (withPrevResult) config["prevResult"] = PrevResult(version);
        return config;
    }

    public static string Text(this JsonNode node) => node.ToJsonString();
}

using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Ambient.Cni;

/// <summary>
/// The previous plugin's result (<c>prevResult</c>), which a chained plugin reads and passes on. Reading: the pod's
/// IP addresses. Passing on: the result unchanged, under the configuration's <c>cniVersion</c>.
/// </summary>
internal static class PrevResult
{
    /// <summary>
    /// The pod's addresses: every <c>ips[].address</c> (CIDR, prefix dropped), in order, without duplicates. Primary
    /// plugins list the container's addresses there (a host-side gateway address is not in <c>ips</c>); the interface
    /// indexes are not consulted, since plugins differ in which interface they point at. A malformed entry is error 7
    /// naming it.
    /// </summary>
    public static IReadOnlyList<string> PodIps(JsonObject prevResult)
    {
        var ips = new List<string>();
        var node = prevResult["ips"];
        if (node is null) return ips;
        if (node is not JsonArray array)
            throw Invalid($"prevResult.ips must be an array, not {NetworkConfig.Describe(node)}");

        for (int i = 0; i < array.Count; i++)
        {
            if (array[i] is not JsonObject entry)
                throw Invalid($"prevResult.ips[{i}] must be an object, not {NetworkConfig.Describe(array[i])}");
            if (entry["address"] is not JsonValue av || av.GetValueKind() != JsonValueKind.String)
                throw Invalid($"prevResult.ips[{i}].address is missing or not a string");
            string cidr = av.GetValue<string>();
            int slash = cidr.IndexOf('/');
            string host = slash < 0 ? cidr : cidr[..slash];
            if (!IPAddress.TryParse(host, out var ip) || host.Contains('%')
                || (ip.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork && host.Count(c => c == '.') != 3) // not "10.1"
                || (slash >= 0 && !int.TryParse(cidr[(slash + 1)..], out _)))
                throw Invalid($"prevResult.ips[{i}].address '{cidr}' is not an IP address in CIDR notation");

            string text = ip.ToString();
            if (!ips.Contains(text)) ips.Add(text);
        }
        return ips;
    }

    /// <summary>
    /// The ADD result a chained plugin that changes nothing prints: <paramref name="prevResult"/> with every field as
    /// it came, and <c>cniVersion</c> set to the configuration's (the spec: a result's version must match the
    /// configuration's). Indented, as the reference plugins print theirs.
    /// </summary>
    public static string Render(JsonObject prevResult, string cniVersion)
    {
        var result = new JsonObject { ["cniVersion"] = cniVersion };
        foreach (var (key, value) in prevResult)
            if (key != "cniVersion") result[key] = value?.DeepClone();
        return CniJson.Write(result);
    }

    private static CniException Invalid(string msg) => new(CniErrorCode.InvalidNetworkConfig, msg);
}

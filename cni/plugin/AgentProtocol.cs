using System.Text.Json;
using System.Text.Json.Serialization;

namespace Ambient.Cni;

/// <summary>
/// The protocol between the CNI plugin (client) and the node agent (server), by which the agent learns about pods
/// being added to, checked on, and deleted from this node.
/// <para>
/// <b>Transport.</b> A Unix domain <c>SOCK_STREAM</c> socket at the configuration's <c>agentSocket</c> (default
/// <c>/var/run/ambient/cni-agent.sock</c>). One exchange per connection: the plugin connects, writes one request
/// line, reads one response line, closes. The plugin allows 5 seconds in all for connect, request and response;
/// after that it treats the agent as unreachable.
/// </para>
/// <para>
/// <b>Request.</b> One JSON object in UTF-8 on a single line, terminated by <c>'\n'</c> (0x0A). Every field is always
/// present, in this order:
/// <code>
/// {"event":"add","containerId":"4f3a…","netns":"/var/run/netns/cni-1234","ifname":"eth0","podName":"web-0","podNamespace":"default","podUid":"6c1e…","ips":["10.1.0.5","fd00::5"]}
/// </code>
/// <list type="table">
/// <item><term>event</term><description><c>"add"</c>, <c>"del"</c> or <c>"check"</c> (CNI ADD, DEL, CHECK).</description></item>
/// <item><term>containerId</term><description><c>CNI_CONTAINERID</c>: the pod sandbox's container ID.</description></item>
/// <item><term>netns</term><description><c>CNI_NETNS</c>: path of the pod's network namespace; <c>""</c> on del when
/// the runtime gave none (the namespace may be gone).</description></item>
/// <item><term>ifname</term><description><c>CNI_IFNAME</c>: the pod's interface, e.g. <c>eth0</c>.</description></item>
/// <item><term>podName, podNamespace, podUid</term><description>From <c>CNI_ARGS</c> <c>K8S_POD_NAME</c>,
/// <c>K8S_POD_NAMESPACE</c>, <c>K8S_POD_UID</c>; <c>""</c> when the runtime did not pass them (not Kubernetes).</description></item>
/// <item><term>ips</term><description>The pod's addresses from the primary plugin's result (<c>prevResult.ips[].address</c>)
/// without prefix length, IPv4 and IPv6 in the result's order; <c>[]</c> when unknown (del without prevResult).</description></item>
/// </list>
/// </para>
/// <para>
/// <b>Response.</b> One JSON object on a single line terminated by <c>'\n'</c> (an object followed by EOF is accepted
/// too), at most 64 KiB. <c>ok</c> is required; unknown fields are ignored.
/// <list type="table">
/// <item><term><c>{"ok":true}</c></term><description>add: the pod's traffic is redirected, or the pod is not in an
/// ambient namespace and there is nothing to do; del: forgotten (also when it was never known); check: as expected.</description></item>
/// <item><term><c>{"ok":false,"error":"…"}</c></term><description>add: refused or failed, the pod must not start (the
/// runtime gets error 100 with the message and retries the sandbox); check: not set up as expected (error 100);
/// del: logged, DEL still succeeds.</description></item>
/// <item><term><c>{"ok":true,"enrolled":false}</c></term><description>check: the pod is not in the mesh; CHECK succeeds.</description></item>
/// <item><term><c>{"ok":true,"enrolled":true}</c></term><description>check: the pod is in the mesh and set up as expected.</description></item>
/// </list>
/// The agent should answer add only once redirection is in place: the pod's containers start after ADD returns.
/// </para>
/// <para>
/// <b>Probe.</b> A connection closed without a request is a readiness probe (CNI STATUS); the agent just closes it.
/// </para>
/// </summary>
public static class AgentProtocol
{
    public const string Add = "add";
    public const string Del = "del";
    public const string Check = "check";

    /// <summary>The longest response line the plugin reads.</summary>
    public const int MaxResponseBytes = 64 * 1024;

    /// <summary>A request as it goes on the wire: compact JSON and <c>'\n'</c>.</summary>
    public static byte[] EncodeRequest(AgentRequest request)
    {
        byte[] json = JsonSerializer.SerializeToUtf8Bytes(request, AgentJsonContext.Default.AgentRequest);
        var line = new byte[json.Length + 1];
        json.CopyTo(line, 0);
        line[^1] = (byte)'\n';
        return line;
    }

    /// <summary>Parses one response line (without its <c>'\n'</c>); <see cref="JsonException"/> when it is not one.</summary>
    public static AgentResponse DecodeResponse(ReadOnlySpan<byte> line) =>
        JsonSerializer.Deserialize(line, AgentJsonContext.Default.AgentResponse)
        ?? throw new JsonException("the response is JSON null, not an object");
}

/// <summary>A request from the plugin to the node agent; see <see cref="AgentProtocol"/>.</summary>
public sealed record AgentRequest(
    [property: JsonPropertyName("event")] string Event,
    [property: JsonPropertyName("containerId")] string ContainerId,
    [property: JsonPropertyName("netns")] string Netns,
    [property: JsonPropertyName("ifname")] string Ifname,
    [property: JsonPropertyName("podName")] string PodName,
    [property: JsonPropertyName("podNamespace")] string PodNamespace,
    [property: JsonPropertyName("podUid")] string PodUid,
    [property: JsonPropertyName("ips")] IReadOnlyList<string> Ips);

/// <summary>The node agent's answer; see <see cref="AgentProtocol"/>.</summary>
public sealed record AgentResponse(
    [property: JsonPropertyName("ok"), JsonRequired] bool Ok,
    [property: JsonPropertyName("error")] string? Error = null,
    [property: JsonPropertyName("enrolled")] bool? Enrolled = null);

[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(AgentRequest))]
[JsonSerializable(typeof(AgentResponse))]
public sealed partial class AgentJsonContext : JsonSerializerContext;

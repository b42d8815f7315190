using System.Net;
using System.Text.Json;
using System.Text.Json.Serialization;
using Ambient.Config;

namespace Ambient.NodeAgent;

/// <summary>
/// Encodes and decodes the messages of the node agent ↔ daemon protocol ("ZDS"-like), which this comment defines.
/// </summary>
/// <remarks>
/// <para><b>Transport.</b> A Unix domain socket of type <c>SOCK_SEQPACKET</c>, by default
/// <c>/var/run/ambient/daemon.sock</c> (mode 0600). The daemon binds and listens (replacing a stale socket file nobody
/// listens on); the node agent connects. The daemon serves one agent at a time: another agent's connection waits in
/// the listen backlog until the current one goes away. Each message is exactly one packet: a UTF-8 JSON object of
/// 1 to 65536 bytes, with at most one file descriptor attached as <c>SCM_RIGHTS</c> ancillary data. Only
/// <c>add</c> and <c>keep</c> carry one, and must: the pod's network namespace (an open <c>/var/run/netns/NAME</c> or
/// <c>/proc/PID/ns/net</c>). The receiver owns the descriptors it receives (installed close-on-exec).</para>
/// <para><b>Messages.</b> Every object has a string <c>"type"</c>. Field names are case-sensitive; duplicate fields are
/// an error; unknown fields, and fields the type does not use, are ignored (optional fields can be added without a
/// version change).</para>
/// <list type="table">
/// <item><term>agent → daemon</term><description><c>{"type":"hello","version":1}</c> — first message of every connection.</description></item>
/// <item><term>agent → daemon</term><description><c>{"type":"add","uid":"…","name":"…","namespace":"…","serviceAccount":"…","ips":["10.0.0.5","fd00::5"]}</c>
/// + netns fd — the pod joined the mesh.</description></item>
/// <item><term>agent → daemon</term><description><c>{"type":"keep", …same fields as add…}</c> + netns fd — snapshot replay: a
/// pod the daemon may already have (a daemon that has it with the same namespace keeps its listeners; one that has
/// not, e.g. after a restart, adds it — hence the full body).</description></item>
/// <item><term>agent → daemon</term><description><c>{"type":"snapshotSent"}</c> — end of the snapshot replay.</description></item>
/// <item><term>agent → daemon</term><description><c>{"type":"delete","uid":"…"}</c> — the pod left the mesh.</description></item>
/// <item><term>daemon → agent</term><description><c>{"type":"ack"}</c> or <c>{"type":"ack","error":"…"}</c> — the answer to
/// every message; <c>error</c> absent or null means success, otherwise it is a non-empty string.</description></item>
/// </list>
/// <para>Field rules: <c>uid</c>, <c>name</c>, <c>namespace</c>, <c>serviceAccount</c> are non-empty strings of at most
/// 253 characters without control characters; <c>ips</c> is an array (possibly empty) of addresses in standard text form (dotted-quad IPv4
/// without leading zeros, IPv6 without zone id); <c>version</c> is an integer ≥ 1.</para>
/// <para><b>Session.</b> (1) The agent connects and sends <c>hello</c>. The daemon acks; if the version is not
/// <see cref="ProtocolVersion"/> the ack carries an error and the daemon closes the connection, and so it does when the
/// first message is anything but a valid hello. (2) Snapshot replay: the agent sends <c>keep</c> for every pod it has
/// in the mesh, then <c>snapshotSent</c>; on <c>snapshotSent</c> the daemon drops every pod it has that was not added
/// or kept (and not deleted again) since hello, then acks. A second <c>snapshotSent</c> is answered with an error.
/// (3) Then <c>add</c> and <c>delete</c> as pods come and go: an <c>add</c> for a uid the daemon has replaces it, a
/// <c>delete</c> for a uid it lacks succeeds. The exchange is strictly request/response: the agent waits for the ack of
/// one message before sending the next, and the daemon answers every packet with exactly one ack, in order. A bad
/// message (invalid JSON, a missing field, add/keep without a descriptor, a descriptor on a message that takes none,
/// a packet over 64 KiB or with several descriptors, a change the daemon failed to apply) gets an ack with the error
/// and the session goes on; only a bad hello ends it. A disconnect changes nothing on the daemon: its pods stay until
/// the next agent's <c>snapshotSent</c>. When the connection breaks or an ack is late, the agent reconnects with
/// exponential backoff and starts again at (1) with its whole current state.</para>
/// </remarks>
public static class NodeAgentCodec
{
    /// <summary>The protocol version sent in <c>hello</c>.</summary>
    public const int ProtocolVersion = 1;

    /// <summary>The largest message, in bytes of UTF-8 JSON.</summary>
    public const int MaxMessageSize = 64 * 1024;

    /// <summary>The longest uid, name, namespace or service account.</summary>
    public const int MaxFieldLength = 253;

    /// <summary>Where the daemon listens unless configured otherwise.</summary>
    public const string DefaultSocketPath = "/var/run/ambient/daemon.sock";

    private static readonly string[] KnownTypes = ["hello", "add", "keep", "snapshotSent", "delete", "ack"];

    /// <summary>Encodes a message as one packet's payload.</summary>
    /// <exception cref="ArgumentException">The message breaks a field rule or encodes to more than <see cref="MaxMessageSize"/> bytes.</exception>
    public static byte[] Encode(NodeAgentMessage message)
    {
        ArgumentNullException.ThrowIfNull(message);
        var wire = new WireMessage { Type = message.WireType };
        switch (message)
        {
            case NodeAgentMessage.Hello hello:
                wire.Version = hello.Version;
                break;
            case NodeAgentMessage.Add { Pod: var pod }:
                Fill(wire, pod);
                break;
            case NodeAgentMessage.Keep { Pod: var pod }:
                Fill(wire, pod);
                break;
            case NodeAgentMessage.Delete delete:
                wire.Uid = delete.Uid;
                break;
            case NodeAgentMessage.Ack ack:
                wire.Error = ack.Error;
                break;
        }
        if (Validate(wire, out _) is { } problem) throw new ArgumentException($"cannot encode {problem}", nameof(message));
        var bytes = JsonSerializer.SerializeToUtf8Bytes(wire, NodeAgentJsonContext.Default.WireMessage);
        if (bytes.Length > MaxMessageSize)
            throw new ArgumentException($"\"{message.WireType}\" message encodes to {bytes.Length} bytes; the limit is {MaxMessageSize}", nameof(message));
        return bytes;
    }

    /// <summary>Decodes one packet's payload.</summary>
    /// <exception cref="FormatException">The payload is empty, too long, not a JSON object, of an unknown type, or breaks a field rule; the message says which.</exception>
    public static NodeAgentMessage Decode(ReadOnlySpan<byte> payload)
    {
        if (payload.IsEmpty) throw new FormatException("node agent message is empty");
        if (payload.Length > MaxMessageSize)
            throw new FormatException($"node agent message is {payload.Length} bytes; the limit is {MaxMessageSize}");

        CheckSyntax(payload);
        WireMessage? wire;
        try
        {
            wire = JsonSerializer.Deserialize(payload, NodeAgentJsonContext.Default.WireMessage);
        }
        catch (JsonException e)
        {
            var field = e.Path is { Length: > 2 } path ? path[2..] : null;
            throw new FormatException(field is null
                ? $"node agent message is not valid: {e.Message}"
                : $"node agent message: \"{field}\" must be {ExpectedType(field)}", e);
        }
        catch (InvalidOperationException e)
        {
            throw new FormatException($"node agent message is not valid: {e.Message}", e);
        }
        if (wire is null) throw new FormatException("node agent message must be a JSON object");
        if (wire.Type is null) throw new FormatException("node agent message has no \"type\"");
        if (Array.IndexOf(KnownTypes, wire.Type) < 0)
            throw new FormatException($"unknown node agent message type \"{Truncate(wire.Type)}\"; expected one of {string.Join(", ", KnownTypes)}");
        if (Validate(wire, out var ips) is { } problem) throw new FormatException($"invalid {problem}");

        return wire.Type switch
        {
            "hello" => new NodeAgentMessage.Hello(wire.Version!.Value),
            "add" => new NodeAgentMessage.Add(ToPod(wire, ips!)),
            "keep" => new NodeAgentMessage.Keep(ToPod(wire, ips!)),
            "snapshotSent" => new NodeAgentMessage.SnapshotSent(),
            "delete" => new NodeAgentMessage.Delete(wire.Uid!),
            _ => new NodeAgentMessage.Ack(wire.Error),
        };
    }

    private static void Fill(WireMessage wire, PodInfo pod)
    {
        ArgumentNullException.ThrowIfNull(pod);
        wire.Uid = pod.Uid;
        wire.Name = pod.Name;
        wire.Namespace = pod.Namespace;
        wire.ServiceAccount = pod.ServiceAccount;
        wire.Ips = pod.Ips?.Select(ip => ip?.ToString()!).ToArray();
    }

    private static PodInfo ToPod(WireMessage wire, IPAddress[] ips) =>
        new(wire.Uid!, wire.Name!, wire.Namespace!, wire.ServiceAccount!, ips);

    /// <summary>
    /// A structural pass first, so that bad UTF-8, syntax errors, non-objects and repeated fields get their own
    /// messages before the typed read.
    /// </summary>
    private static void CheckSyntax(ReadOnlySpan<byte> payload)
    {
        if (!System.Text.Unicode.Utf8.IsValid(payload)) throw new FormatException("node agent message is not valid UTF-8");
        var reader = new Utf8JsonReader(payload, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Disallow, MaxDepth = 16 });
        try
        {
            if (!reader.Read()) throw new FormatException("node agent message is not valid JSON: no value");
            if (reader.TokenType != JsonTokenType.StartObject)
                throw new FormatException($"node agent message must be a JSON object, not {Describe(reader.TokenType)}");
            var names = new HashSet<string>(StringComparer.Ordinal);
            while (reader.Read())
            {
                if (reader.TokenType == JsonTokenType.PropertyName && reader.CurrentDepth == 1 && !names.Add(reader.GetString()!))
                    throw new FormatException($"node agent message: field \"{Truncate(reader.GetString()!)}\" appears more than once");
            }
        }
        catch (JsonException e)
        {
            throw new FormatException($"node agent message is not valid JSON: {e.Message}", e);
        }
    }

    private static string ExpectedType(string field) => field switch
    {
        "version" => "an integer",
        "ips" => "an array of strings",
        var f when f.StartsWith("ips[", StringComparison.Ordinal) => "a string",
        "type" or "uid" or "name" or "namespace" or "serviceAccount" or "error" => "a string",
        _ => "of another JSON type",
    };

    /// <summary>Checks the fields the message type needs; returns a description of the first problem, or null.</summary>
    private static string? Validate(WireMessage wire, out IPAddress[]? ips)
    {
        ips = null;
        var type = wire.Type;
        switch (type)
        {
            case "hello":
                if (wire.Version is null) return Missing(type, "version");
                if (wire.Version < 1) return $"\"hello\" message: \"version\" must be an integer ≥ 1, not {wire.Version}";
                return null;
            case "add" or "keep":
                if ((CheckName(type, "uid", wire.Uid) ?? CheckName(type, "name", wire.Name) ?? CheckName(type, "namespace", wire.Namespace) ??
                     CheckName(type, "serviceAccount", wire.ServiceAccount)) is { } nameProblem)
                    return nameProblem;
                if (wire.Ips is null) return Missing(type, "ips");
                var parsed = new IPAddress[wire.Ips.Length];
                for (var i = 0; i < parsed.Length; i++)
                {
                    var text = wire.Ips[i];
                    if (text is null || !IpText.TryParseAddress(text, out parsed[i]))
                        return $"\"{type}\" message: \"ips[{i}]\" is not an IP address: {(text is null ? "null" : $"\"{Truncate(text)}\"")}";
                }
                ips = parsed;
                return null;
            case "delete":
                return CheckName(type, "uid", wire.Uid);
            case "ack":
                return wire.Error is "" ? "\"ack\" message: \"error\" must be null or a non-empty string" : null;
            default:
                return null;
        }
    }

    private static string? CheckName(string type, string field, string? value)
    {
        if (value is null) return Missing(type, field);
        if (value.Length == 0) return $"\"{type}\" message: \"{field}\" is empty";
        if (value.Length > MaxFieldLength) return $"\"{type}\" message: \"{field}\" is {value.Length} characters long; the limit is {MaxFieldLength}";
        if (value.AsSpan().IndexOfAnyInRange('\0', '\u001f') >= 0 || value.Contains('\u007f'))
            return $"\"{type}\" message: \"{field}\" contains a control character";
        return null;
    }

    private static string Missing(string type, string field) => $"\"{type}\" message: missing \"{field}\"";

    private static string Truncate(string text) => text.Length <= 64 ? text : text[..64] + "…";

    private static string Describe(JsonTokenType token) => token switch
    {
        JsonTokenType.StartArray => "an array",
        JsonTokenType.String => "a string",
        JsonTokenType.Number => "a number",
        JsonTokenType.True or JsonTokenType.False => "a boolean",
        JsonTokenType.Null => "null",
        _ => token.ToString(),
    };
}

/// <summary>The flat JSON shape shared by every message type.</summary>
internal sealed class WireMessage
{
    [JsonPropertyName("type")] public string? Type { get; set; }
    [JsonPropertyName("version")] public int? Version { get; set; }
    [JsonPropertyName("uid")] public string? Uid { get; set; }
    [JsonPropertyName("name")] public string? Name { get; set; }
    [JsonPropertyName("namespace")] public string? Namespace { get; set; }
    [JsonPropertyName("serviceAccount")] public string? ServiceAccount { get; set; }
    [JsonPropertyName("ips")] public string?[]? Ips { get; set; }
    [JsonPropertyName("error")] public string? Error { get; set; }
}

[JsonSourceGenerationOptions(
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    AllowDuplicateProperties = false,
    ReadCommentHandling = JsonCommentHandling.Disallow,
    AllowTrailingCommas = false,
    NumberHandling = JsonNumberHandling.Strict)]
[JsonSerializable(typeof(WireMessage))]
internal sealed partial class NodeAgentJsonContext : JsonSerializerContext;

using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Ambient.Cni;

/// <summary>
/// The plugin configuration the runtime streams on stdin: the spec's fields (<c>cniVersion</c>, <c>name</c>,
/// <c>type</c>, <c>prevResult</c>) and this plugin's own (<c>agentSocket</c>, <c>failOpen</c>, <c>logLevel</c>).
/// Other fields (<c>args</c>, <c>runtimeConfig</c>, <c>capabilities</c>, …) are accepted and ignored.
/// </summary>
internal sealed record NetworkConfig(
    string CniVersion,
    string Name,
    string Type,
    JsonObject? PrevResult,
    string AgentSocket,
    bool FailOpen,
    PluginLogLevel LogLevel)
{
    public const string DefaultAgentSocket = "/var/run/ambient/cni-agent.sock";

    /// <summary>sun_path holds 108 bytes on Linux, one of them the terminating NUL.</summary>
    public const int MaxSocketPathBytes = 107;

    private static readonly JsonDocumentOptions ParseOptions = new() { AllowDuplicateProperties = false, MaxDepth = 64 };

    /// <summary>
    /// Parses and validates stdin. Errors: not JSON, or not an object → 6; <c>cniVersion</c> missing → 7, not one this
    /// plugin supports → 1; <c>name</c>/<c>type</c> missing or a field of ours with a wrong value → 7, the message
    /// naming the field. Once the version is known to be supported, errors carry it.
    /// </summary>
    public static NetworkConfig Parse(string stdin)
    {
        if (string.IsNullOrWhiteSpace(stdin))
            throw new CniException(CniErrorCode.DecodeFailure,
                "no network configuration on stdin",
                "the runtime must stream the plugin configuration as a JSON object on stdin");

        JsonNode? root;
        try
        {
            root = JsonNode.Parse(stdin, nodeOptions: null, ParseOptions);
        }
        catch (JsonException e)
        {
            throw new CniException(CniErrorCode.DecodeFailure, "network configuration on stdin is not valid JSON", e.Message);
        }
        if (root is not JsonObject obj)
            throw new CniException(CniErrorCode.DecodeFailure,
                $"network configuration on stdin must be a JSON object, not {Describe(root)}");

        string version = RequiredString(obj, "cniVersion", "the CNI spec version of this configuration, e.g. \"1.0.0\"");
        if (!CniVersions.IsSupported(version))
            throw new CniException(CniErrorCode.IncompatibleVersion,
                $"incompatible CNI version '{version}'",
                $"ambient-cni supports cniVersion {string.Join(", ", CniVersions.Supported)}");

        try
        {
            string name = RequiredString(obj, "name", "the network name");
            string type = RequiredString(obj, "type", "the plugin binary's name, \"ambient-cni\"");

            string socket = OptionalString(obj, "agentSocket") ?? DefaultAgentSocket;
            if (!socket.StartsWith('/'))
                throw Invalid($"agentSocket '{socket}' must be an absolute path (the node agent's Unix socket)");
            if (Encoding.UTF8.GetByteCount(socket) > MaxSocketPathBytes || socket.Contains('\0'))
                throw Invalid($"agentSocket '{socket}' is longer than a Unix socket path can be ({MaxSocketPathBytes} bytes)");

            bool failOpen = obj["failOpen"] switch
            {
                null => false,
                JsonValue v when v.GetValueKind() == JsonValueKind.True => true,
                JsonValue v when v.GetValueKind() == JsonValueKind.False => false,
                var other => throw Invalid($"failOpen must be true or false, not {Describe(other)}"),
            };

            var level = PluginLogLevel.Info;
            string? levelText = OptionalString(obj, "logLevel");
            if (levelText is not null && !PluginLog.TryParse(levelText, out level))
                throw Invalid($"logLevel '{levelText}' is not one of debug, info, warn, error");

            JsonObject? prevResult = obj["prevResult"] switch
            {
                null => null,
                JsonObject o => o,
                var other => throw Invalid($"prevResult must be a JSON object (the previous plugin's result), not {Describe(other)}"),
            };

            return new NetworkConfig(version, name, type, prevResult, socket, failOpen, level);
        }
        catch (CniException e)
        {
            throw new CniException(e.Error.WithVersion(version));
        }
    }

    private static string RequiredString(JsonObject obj, string field, string what)
    {
        if (!obj.TryGetPropertyValue(field, out var node) || node is null)
            throw Invalid($"missing {field} ({what})");
        if (node is not JsonValue v || v.GetValueKind() != JsonValueKind.String)
            throw Invalid($"{field} must be a string, not {Describe(node)}");
        string s = v.GetValue<string>();
        if (s.Length == 0) throw Invalid($"{field} must not be empty ({what})");
        return s;
    }

    private static string? OptionalString(JsonObject obj, string field)
    {
        var node = obj[field];
        if (node is null) return null;
        if (node is not JsonValue v || v.GetValueKind() != JsonValueKind.String)
            throw Invalid($"{field} must be a string, not {Describe(node)}");
        return v.GetValue<string>();
    }

    private static CniException Invalid(string msg) => new(CniErrorCode.InvalidNetworkConfig, msg);

    /// <summary>A short description of a JSON value for error messages: <c>a number (5)</c>, <c>an array</c>.</summary>
    internal static string Describe(JsonNode? node)
    {
        if (node is null) return "null";
        var kind = node.GetValueKind();
        return kind switch
        {
            JsonValueKind.Object => "an object",
            JsonValueKind.Array => "an array",
            JsonValueKind.String => $"a string ({node.ToJsonString()})",
            JsonValueKind.Number => $"a number ({node.ToJsonString()})",
            JsonValueKind.True or JsonValueKind.False => $"a boolean ({node.ToJsonString()})",
            _ => "null",
        };
    }
}

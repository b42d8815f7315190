using System.Text;

namespace Ambient.Cni;

/// <summary>
/// One invocation of the plugin, from its environment and stdin, validated. Which <c>CNI_*</c> variables are
/// required depends on the command (SPEC.md, section 2):
/// <list type="table">
/// <item><term>ADD, CHECK</term><description>CNI_CONTAINERID, CNI_NETNS, CNI_IFNAME</description></item>
/// <item><term>DEL</term><description>CNI_CONTAINERID, CNI_IFNAME (CNI_NETNS may be missing: the pod may be gone)</description></item>
/// <item><term>VERSION</term><description>nothing else; stdin is not read</description></item>
/// <item><term>STATUS, GC</term><description>nothing else; stdin holds the configuration</description></item>
/// </list>
/// CNI_ARGS and CNI_PATH are optional everywhere. Missing or invalid variables are error 4, naming each of them.
/// </summary>
internal sealed record CniRequest(
    CniCommand Command,
    string ContainerId,
    string Netns,
    string IfName,
    CniArgs Args,
    string CniPath,
    NetworkConfig? Config)
{
    /// <summary>The configuration; every command but VERSION has one.</summary>
    public NetworkConfig RequiredConfig => Config ?? throw new InvalidOperationException($"{Command.Name()} has no configuration");

    /// <param name="environment">The process environment (only <c>CNI_*</c> is read).</param>
    /// <param name="readStdin">Reads stdin to its end; called only for commands that take a configuration. An
    /// <see cref="IOException"/> from it is error 5.</param>
    public static CniRequest Parse(IReadOnlyDictionary<string, string?> environment, Func<string> readStdin)
    {
        string Env(string name) => environment.TryGetValue(name, out var v) && v is not null ? v : "";

        var command = CniCommands.Parse(Env("CNI_COMMAND"));
        if (command == CniCommand.Version)
            return new CniRequest(command, "", "", "", CniArgs.Empty, Env("CNI_PATH"), null);

        bool attachment = command is CniCommand.Add or CniCommand.Del or CniCommand.Check;
        string containerId = Env("CNI_CONTAINERID"), netns = Env("CNI_NETNS"), ifName = Env("CNI_IFNAME");
        if (attachment)
        {
            var missing = new List<string>();
            if (containerId.Length == 0) missing.Add("CNI_CONTAINERID");
            if (netns.Length == 0 && command != CniCommand.Del) missing.Add("CNI_NETNS");
            if (ifName.Length == 0) missing.Add("CNI_IFNAME");
            if (missing.Count > 0)
                throw new CniException(CniErrorCode.InvalidEnvironment,
                    $"missing required environment variable{(missing.Count > 1 ? "s" : "")} {string.Join(", ", missing)} for {command.Name()}");
            ValidateContainerId(containerId);
            ValidateIfName(ifName);
        }
        var args = CniArgs.Parse(Env("CNI_ARGS"));

        string stdin;
        try
        {
            stdin = readStdin();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or DecoderFallbackException)
        {
            throw new CniException(CniErrorCode.IoFailure, "cannot read the network configuration from stdin", e.Message);
        }
        var config = NetworkConfig.Parse(stdin);

        if (command == CniCommand.Check && !CniVersions.AllowsCheck(config.CniVersion))
            throw new CniException(new CniError(CniErrorCode.IncompatibleVersion,
                $"CHECK is not defined for cniVersion {config.CniVersion}", "CHECK exists from CNI 0.4.0 on", config.CniVersion));
        if (command is CniCommand.Status or CniCommand.Gc && !CniVersions.AllowsStatusAndGc(config.CniVersion))
            throw new CniException(new CniError(CniErrorCode.IncompatibleVersion,
                $"{command.Name()} is not defined for cniVersion {config.CniVersion}", $"{command.Name()} exists from CNI 1.1.0 on", config.CniVersion));

        return new CniRequest(command, containerId, netns, ifName, args, Env("CNI_PATH"), config);
    }

    /// <summary>SPEC.md: must start with an alphanumeric character, then alphanumerics, '_', '.', '-'.</summary>
    private static void ValidateContainerId(string id)
    {
        bool ok = char.IsAsciiLetterOrDigit(id[0]) && id.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '.' or '-');
        if (!ok)
            throw new CniException(CniErrorCode.InvalidEnvironment,
                $"CNI_CONTAINERID '{id}' has invalid characters",
                "a container ID starts with a letter or digit, followed by letters, digits, '_', '.' or '-'");
    }

    /// <summary>SPEC.md: a Linux interface name: not empty, not '.' or '..', under 16 bytes, no '/', ':' or whitespace.</summary>
    private static void ValidateIfName(string name)
    {
        string? problem =
            name is "." or ".." ? "is not an interface name"
            : Encoding.UTF8.GetByteCount(name) > 15 ? "is longer than 15 bytes"
            : name.Any(c => c is '/' or ':' || char.IsWhiteSpace(c)) ? "contains '/', ':' or whitespace"
            : null;
        if (problem is not null)
            throw new CniException(CniErrorCode.InvalidEnvironment, $"CNI_IFNAME '{name}' {problem}");
    }
}

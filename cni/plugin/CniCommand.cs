namespace Ambient.Cni;

/// <summary>The operation a runtime asks for through <c>CNI_COMMAND</c>.</summary>
internal enum CniCommand
{
    Add,
    Del,
    Check,
    Version,
    /// <summary>CNI 1.1: is the plugin ready to service ADD?</summary>
    Status,
    /// <summary>CNI 1.1: clean up leaked resources (nothing to do here: the agent reconciles on its own).</summary>
    Gc,
}

internal static class CniCommands
{
    /// <summary>Parses <c>CNI_COMMAND</c>. The spec spells the values in capitals, and so must the runtime.</summary>
    public static CniCommand Parse(string? value) => value switch
    {
        null or "" => throw new CniException(CniErrorCode.InvalidEnvironment,
            "CNI_COMMAND is not set",
            "ambient-cni is a CNI plugin run by the container runtime with CNI_COMMAND=ADD|DEL|CHECK|VERSION; run it with --help for how it is configured"),
        "ADD" => CniCommand.Add,
        "DEL" => CniCommand.Del,
        "CHECK" => CniCommand.Check,
        "VERSION" => CniCommand.Version,
        "STATUS" => CniCommand.Status,
        "GC" => CniCommand.Gc,
        _ => throw new CniException(CniErrorCode.InvalidEnvironment,
            $"CNI_COMMAND '{value}' is not a CNI command",
            "expected one of ADD, DEL, CHECK, VERSION, STATUS, GC"),
    };

    public static string Name(this CniCommand command) => command.ToString().ToUpperInvariant();
}

namespace Ambient.Cni;

/// <summary>
/// Error codes a CNI plugin reports in its error result. 1–99 are the spec's well-known codes (only those listed
/// there may be used); 100 and above are this plugin's own.
/// </summary>
internal static class CniErrorCode
{
    /// <summary>The configuration's <c>cniVersion</c> is not one this plugin supports (or too old for the command).</summary>
    public const int IncompatibleVersion = 1;
    /// <summary>A required CNI_* environment variable is missing or invalid; the message names it.</summary>
    public const int InvalidEnvironment = 4;
    /// <summary>Reading the network configuration from stdin failed.</summary>
    public const int IoFailure = 5;
    /// <summary>stdin is not a JSON object.</summary>
    public const int DecodeFailure = 6;
    /// <summary>A field of the network configuration is missing or has a value the plugin does not accept.</summary>
    public const int InvalidNetworkConfig = 7;
    /// <summary>A transient condition (here: the node agent cannot be reached); the runtime should retry.</summary>
    public const int TryAgainLater = 11;
    /// <summary>STATUS (CNI 1.1): the plugin cannot service ADD requests (the node agent is not reachable).</summary>
    public const int PluginNotAvailable = 50;

    /// <summary>The node agent answered <c>{"ok":false}</c>: it refused the pod, or CHECK found it not set up as expected.</summary>
    public const int AgentRefused = 100;
    /// <summary>The node agent answered something that is not the agent protocol.</summary>
    public const int AgentProtocolError = 101;
    /// <summary>A bug in the plugin (an unexpected exception); the message says what.</summary>
    public const int InternalError = 102;
}

/// <summary>
/// The spec's error result, printed to stdout with a non-zero exit code:
/// <c>{"cniVersion":"…","code":N,"msg":"…","details":"…"}</c>. <see cref="CniVersion"/> is the configuration's
/// version once that is known and supported, otherwise the newest version this plugin speaks.
/// </summary>
internal sealed record CniError(int Code, string Msg, string? Details = null, string? CniVersion = null)
{
    public CniError WithVersion(string cniVersion) => CniVersion is null ? this with { CniVersion = cniVersion } : this;

    public override string ToString() => Details is null ? $"CNI error {Code}: {Msg}" : $"CNI error {Code}: {Msg} ({Details})";
}

/// <summary>Carries a <see cref="CniError"/> out of the parsing and command code to the one place that prints it.</summary>
internal sealed class CniException(CniError error) : Exception(error.ToString())
{
    public CniError Error { get; } = error;

    public CniException(int code, string msg, string? details = null) : this(new CniError(code, msg, details)) { }
}

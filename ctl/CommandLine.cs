using System.Net;

namespace Ambient.Ctl;

public enum OutputFormat { Table, Json }

/// <summary>
/// What the user asked for: where the admin API is, how to print, which verb with which arguments. <see cref="Verb"/>
/// is null when only <c>--help</c> or <c>--version</c> was given (or nothing at all).
/// </summary>
public sealed record Invocation(IPEndPoint Admin, OutputFormat Output, string? Verb, IReadOnlyList<string> Arguments, bool Help, bool Version);

/// <summary>The command line is wrong; the message says how, and the caller prints the usage with it.</summary>
public sealed class UsageException(string message, string? verb = null) : Exception(message)
{
    /// <summary>The verb whose usage applies, when the mistake is in a verb's arguments.</summary>
    public string? Verb { get; } = verb;
}

/// <summary>
/// Parses <c>ambientctl [--admin ADDR:PORT] [-o table|json] VERB [ARGS…]</c>. Options may come before or after the
/// verb (as kubectl allows), in <c>--opt value</c> or <c>--opt=value</c> form. Knows nothing of what verbs exist:
/// <see cref="Verbs"/> checks the verb and its arguments.
/// </summary>
public static class CommandLine
{
    public const string AdminEnvironmentVariable = "AMBIENT_ADMIN";

    /// <summary>Where the daemon serves its admin API by default (loopback of the node's network namespace).</summary>
    public static readonly IPEndPoint DefaultAdmin = new(IPAddress.Loopback, 15000);

    /// <param name="adminFromEnvironment">The value of <see cref="AdminEnvironmentVariable"/>, if set; <c>--admin</c> wins over it.</param>
    public static Invocation Parse(IReadOnlyList<string> args, string? adminFromEnvironment)
    {
        string? admin = null;
        var output = OutputFormat.Table;
        bool help = false, version = false;
        var positional = new List<string>();

        for (int i = 0; i < args.Count; i++)
        {
            var (name, inlineValue) = SplitOption(args[i]);
            string Value() => inlineValue ?? (++i < args.Count ? args[i] : throw new UsageException($"{name} needs a value"));
            switch (name)
            {
                case "--admin":
                    admin = Value();
                    break;
                case "-o" or "--output":
                    output = ParseOutput(Value());
                    break;
                case "-h" or "--help":
                    help = true;
                    break;
                case "--version":
                    version = true;
                    break;
                default:
                    if (name.StartsWith('-') && name.Length > 1)
                        throw new UsageException($"unknown option {name}", positional.FirstOrDefault());
                    positional.Add(args[i]);
                    break;
            }
        }

        // "ambientctl help explain" reads better than "ambientctl explain --help"; both work.
        if (positional.Count > 0 && positional[0] == "help")
        {
            help = true;
            positional.RemoveAt(0);
        }

        var endpoint = admin is not null
            ? ParseAdmin(admin, "--admin")
            : adminFromEnvironment is { Length: > 0 } fromEnvironment
                ? ParseAdmin(fromEnvironment, AdminEnvironmentVariable)
                : DefaultAdmin;
        return new Invocation(endpoint, output, positional.FirstOrDefault(), positional.Skip(1).ToArray(), help, version);
    }

    /// <summary><c>--admin=X</c> → (<c>--admin</c>, X); a lone <c>-</c> or a non-option is returned whole.</summary>
    private static (string Name, string? Value) SplitOption(string arg)
    {
        if (!arg.StartsWith('-')) return (arg, null);
        int eq = arg.IndexOf('=');
        return eq > 0 ? (arg[..eq], arg[(eq + 1)..]) : (arg, null);
    }

    private static OutputFormat ParseOutput(string value) => value switch
    {
        "table" => OutputFormat.Table,
        "json" => OutputFormat.Json,
        _ => throw new UsageException($"output format '{value}' is not one of: table, json"),
    };

    /// <summary>ADDR:PORT with an explicit port; a bare port means loopback (the admin API serves nothing else).</summary>
    private static IPEndPoint ParseAdmin(string value, string from)
    {
        if (int.TryParse(value, out int port) && port is > 0 and <= 65535)
            return new IPEndPoint(IPAddress.Loopback, port);
        if (IPEndPoint.TryParse(value, out var endpoint) && endpoint.Port != 0 && value.Contains(':'))
            return endpoint;
        throw new UsageException($"{from} '{value}' is not ADDR:PORT (e.g. 127.0.0.1:15000)");
    }
}

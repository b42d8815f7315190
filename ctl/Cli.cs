namespace Ambient.Ctl;

/// <summary>
/// From command line to exit code: parse, pick the verb, run it, and turn every failure into a message on stderr and
/// the exit status <see cref="ExitCodes"/> documents. Takes its environment and writers as arguments, so it can run
/// in-process as well as from <c>Program</c>.
/// </summary>
public static class Cli
{
    public static async Task<int> RunAsync(IReadOnlyList<string> args, string? adminFromEnvironment, TextWriter stdout, TextWriter stderr)
    {
        Invocation invocation;
        Verb? verb;
        try
        {
            invocation = CommandLine.Parse(args, adminFromEnvironment);
            if (invocation.Version)
            {
                stdout.WriteLine($"ambientctl {Usage.Version}");
                return ExitCodes.Ok;
            }
            if (invocation.Verb is null)
            {
                // No verb: help if asked for, else a usage error (still showing the help, which is what was needed).
                (invocation.Help ? stdout : stderr).Write(Usage.Tool);
                return invocation.Help ? ExitCodes.Ok : ExitCodes.Usage;
            }
            verb = Verbs.Find(invocation.Verb) ?? throw new UsageException($"unknown verb '{invocation.Verb}'");
            if (invocation.Help)
            {
                stdout.Write(verb.Help);
                return ExitCodes.Ok;
            }
            verb.CheckArguments(invocation.Arguments);
        }
        catch (UsageException e)
        {
            stderr.WriteLine($"ambientctl: {e.Message}");
            stderr.WriteLine(e.Verb is { } name && Verbs.Find(name) is { } v ? $"Usage: {v.Usage}" : "Run 'ambientctl --help' for the verbs and options.");
            return ExitCodes.Usage;
        }

        using var admin = new AdminClient(invocation.Admin);
        try
        {
            return await verb.RunAsync(new VerbContext(admin, invocation.Output, invocation.Arguments, stdout));
        }
        catch (AdminUnreachableException e)
        {
            stderr.WriteLine($"ambientctl: {e.Message}");
            return ExitCodes.Unreachable;
        }
        catch (AdminProtocolException e)
        {
            stderr.WriteLine($"ambientctl: {e.Message}");
            return ExitCodes.Unreachable;
        }
        catch (AdminRequestException e)
        {
            stderr.WriteLine($"ambientctl: the daemon refused: {e.Message}");
            return ExitCodes.Usage;
        }
    }
}

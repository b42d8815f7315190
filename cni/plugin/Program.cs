using System.Collections;
using System.Text;
using Ambient.Cni;

// The CNI execution protocol: parameters in CNI_* environment variables, configuration on stdin, result or error
// JSON on stdout, logs on stderr, exit code 0 or 1. Every failure is printed as the spec's error; nothing throws.

if (args is ["--help"] or ["-h"] or ["help"])
{
    Console.Out.WriteLine(HelpText.Text);
    return 0;
}

int exitCode;
string stdout;
try
{
    var environment = new Dictionary<string, string?>(StringComparer.Ordinal);
    foreach (DictionaryEntry entry in Environment.GetEnvironmentVariables())
        environment[(string)entry.Key] = entry.Value as string;

    var outcome = await new CniPlugin(Console.Error).RunAsync(environment, ReadStdin);
    (exitCode, stdout) = (outcome.ExitCode, outcome.Stdout);
}
catch (Exception e)
{
    exitCode = 1;
    stdout = CniJson.Error(new CniError(CniErrorCode.InternalError, $"ambient-cni failed unexpectedly: {e.GetType().Name}: {e.Message}", e.ToString()));
}

try
{
    if (stdout.Length > 0)
    {
        using var output = Console.OpenStandardOutput();
        output.Write(Encoding.UTF8.GetBytes(stdout + "\n"));
        output.Flush();
    }
}
catch (IOException)
{
    return 1; // the runtime went away; nothing else to tell it
}
return exitCode;

static string ReadStdin()
{
    using var input = Console.OpenStandardInput();
    using var reader = new StreamReader(input, new UTF8Encoding(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true));
    return reader.ReadToEnd();
}

using System.Net;
using Ambient.Ctl;

namespace Ambient.Tests.Ctl;

public sealed class CommandLineTests
{
    [Fact]
    public void Defaults_are_the_local_admin_api_and_tables()
    {
        var invocation = CommandLine.Parse(["workloads"], null);
        Assert.Equal(IPEndPoint.Parse("127.0.0.1:15000"), invocation.Admin);
        Assert.Equal(OutputFormat.Table, invocation.Output);
        Assert.Equal("workloads", invocation.Verb);
        Assert.Empty(invocation.Arguments);
    }

    [Theory]
    [InlineData(new object[] { new[] { "--admin", "127.0.0.2:15100", "-o", "json", "explain", "default/sleep", "10.0.0.1:80" } })]
    [InlineData(new object[] { new[] { "explain", "default/sleep", "10.0.0.1:80", "--admin=127.0.0.2:15100", "--output=json" } })]
    [InlineData(new object[] { new[] { "-o=json", "explain", "--admin", "127.0.0.2:15100", "default/sleep", "10.0.0.1:80" } })]
    public void Options_go_before_or_after_the_verb_in_either_form(string[] args)
    {
        var invocation = CommandLine.Parse(args, adminFromEnvironment: "127.0.0.9:1");
        Assert.Equal(IPEndPoint.Parse("127.0.0.2:15100"), invocation.Admin); // --admin wins over AMBIENT_ADMIN
        Assert.Equal(OutputFormat.Json, invocation.Output);
        Assert.Equal("explain", invocation.Verb);
        Assert.Equal(["default/sleep", "10.0.0.1:80"], invocation.Arguments);
    }

    [Theory]
    [InlineData("127.0.0.5:15001", "127.0.0.5:15001")]
    [InlineData("[::1]:15000", "[::1]:15000")]
    [InlineData("15005", "127.0.0.1:15005")]
    public void The_environment_names_the_admin_api_when_no_option_does(string value, string expected)
    {
        Assert.Equal(IPEndPoint.Parse(expected), CommandLine.Parse(["certs"], value).Admin);
    }

    [Theory]
    [InlineData(new[] { "--help" }, null)]
    [InlineData(new[] { "explain", "--help" }, "explain")]
    [InlineData(new[] { "help", "logs" }, "logs")]
    [InlineData(new[] { "-h", "certs" }, "certs")]
    public void Help_for_the_tool_or_a_verb(string[] args, string? verb)
    {
        var invocation = CommandLine.Parse(args, null);
        Assert.True(invocation.Help);
        Assert.Equal(verb, invocation.Verb);
    }

    [Theory]
    [InlineData(new[] { "--admin" }, "--admin needs a value")]
    [InlineData(new[] { "--admin", "localhost", "workloads" }, "--admin 'localhost' is not ADDR:PORT")]
    [InlineData(new[] { "--admin", "127.0.0.1", "workloads" }, "--admin '127.0.0.1' is not ADDR:PORT")]
    [InlineData(new[] { "-o", "yaml", "workloads" }, "output format 'yaml' is not one of: table, json")]
    [InlineData(new[] { "workloads", "--wide" }, "unknown option --wide")]
    public void Mistakes_are_usage_errors_that_say_what_is_wrong(string[] args, string message)
    {
        var e = Assert.Throws<UsageException>(() => CommandLine.Parse(args, null));
        Assert.StartsWith(message, e.Message);
    }

    [Fact]
    public void A_bad_environment_value_is_reported_under_its_name()
    {
        var e = Assert.Throws<UsageException>(() => CommandLine.Parse(["workloads"], "nowhere"));
        Assert.StartsWith("AMBIENT_ADMIN 'nowhere'", e.Message);
    }

    [Theory]
    [InlineData("explain", new[] { "default/sleep" }, "explain needs 2 argument(s): SOURCE DESTINATION:PORT")]
    [InlineData("logs", new[] { "debug", "info" }, "logs takes at most 1 argument(s): [LEVEL]")]
    [InlineData("workloads", new[] { "extra" }, "workloads takes no arguments")]
    public void Each_verb_checks_its_number_of_arguments(string verb, string[] arguments, string message)
    {
        var e = Assert.Throws<UsageException>(() => Verbs.Find(verb)!.CheckArguments(arguments));
        Assert.Equal(message, e.Message);
        Assert.Equal(verb, e.Verb);
    }

    [Fact]
    public void The_tool_help_lists_every_verb()
    {
        Assert.All(Verbs.All, verb => Assert.Contains($"  {verb.Name} ", Usage.Tool));
    }
}

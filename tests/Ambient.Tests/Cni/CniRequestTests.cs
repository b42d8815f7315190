using System.Text.Json.Nodes;
using Ambient.Cni;

namespace Ambient.Tests.Cni;

/// <summary>Parsing an invocation: CNI_* variables per command, then the configuration on stdin.</summary>
public sealed class CniRequestTests
{
    private static CniRequest Parse(Dictionary<string, string?> env, string stdin) => CniRequest.Parse(env, () => stdin);

    private static CniError Fails(Dictionary<string, string?> env, string stdin) =>
        Assert.Throws<CniException>(() => Parse(env, stdin)).Error;

    [Theory]
    [MemberData(nameof(CniInputs.EachVersion), MemberType = typeof(CniInputs))]
    public void A_chained_ADD_parses_under_every_supported_version(string version)
    {
        var request = Parse(CniInputs.Env("ADD"), CniInputs.Config(version).Text());

        Assert.Equal(CniCommand.Add, request.Command);
        Assert.Equal(CniInputs.ContainerId, request.ContainerId);
        Assert.Equal(CniInputs.Netns, request.Netns);
        Assert.Equal("eth0", request.IfName);
        Assert.Equal("/opt/cni/bin", request.CniPath);
        Assert.Equal("web-0", request.Args.PodName);
        var config = request.RequiredConfig;
        Assert.Equal(version, config.CniVersion);
        Assert.Equal("k8s-pod-network", config.Name);
        Assert.Equal("ambient-cni", config.Type);
        Assert.True(JsonNode.DeepEquals(CniInputs.PrevResult(version), config.PrevResult));
    }

    [Fact]
    public void Our_fields_default_to_the_standard_socket_fail_closed_and_info()
    {
        var config = Parse(CniInputs.Env("ADD"), CniInputs.Config().Text()).RequiredConfig;
        Assert.Equal("/var/run/ambient/cni-agent.sock", config.AgentSocket);
        Assert.False(config.FailOpen);
        Assert.Equal(PluginLogLevel.Info, config.LogLevel);
    }

    [Fact]
    public void Our_fields_are_read_when_given()
    {
        var config = Parse(CniInputs.Env("ADD"), CniInputs.Config(socket: "/run/agent.sock", failOpen: true, logLevel: "DEBUG").Text()).RequiredConfig;
        Assert.Equal("/run/agent.sock", config.AgentSocket);
        Assert.True(config.FailOpen);
        Assert.Equal(PluginLogLevel.Debug, config.LogLevel);
    }

    [Fact]
    public void DEL_needs_no_netns_and_no_prevResult()
    {
        var request = Parse(CniInputs.Env("DEL").Without("CNI_NETNS", "CNI_ARGS", "CNI_PATH"), CniInputs.Config(withPrevResult: false).Text());
        Assert.Equal(CniCommand.Del, request.Command);
        Assert.Equal("", request.Netns);
        Assert.Null(request.RequiredConfig.PrevResult);
    }

    [Fact]
    public void VERSION_needs_nothing_but_the_command_and_does_not_read_stdin()
    {
        var request = CniRequest.Parse(new Dictionary<string, string?> { ["CNI_COMMAND"] = "VERSION" },
            () => throw new InvalidOperationException("stdin must not be read for VERSION"));
        Assert.Equal(CniCommand.Version, request.Command);
        Assert.Null(request.Config);
    }

    [Theory]
    [InlineData("STATUS")]
    [InlineData("GC")]
    public void STATUS_and_GC_need_only_the_command_and_a_1_1_config(string command)
    {
        var env = new Dictionary<string, string?> { ["CNI_COMMAND"] = command };
        Assert.Equal(command, Parse(env, CniInputs.Config("1.1.0", withPrevResult: false).Text()).Command.Name());

        var e = Fails(env, CniInputs.Config("1.0.0", withPrevResult: false).Text());
        Assert.Equal(1, e.Code);
        Assert.Contains(command, e.Msg);
        Assert.Equal("1.0.0", e.CniVersion);
    }

    // --- environment ---

    [Theory]
    [InlineData(null, "CNI_COMMAND is not set")]
    [InlineData("", "CNI_COMMAND is not set")]
    [InlineData("FROB", "CNI_COMMAND 'FROB'")]
    [InlineData("add", "CNI_COMMAND 'add'")]
    public void A_missing_or_unknown_command_is_error_4_naming_it(string? command, string message)
    {
        var e = Fails(CniInputs.Env("ADD").With("CNI_COMMAND", command), CniInputs.Config().Text());
        Assert.Equal(4, e.Code);
        Assert.Contains(message, e.Msg);
    }

    [Theory]
    [InlineData("ADD", "CNI_CONTAINERID")]
    [InlineData("ADD", "CNI_NETNS")]
    [InlineData("ADD", "CNI_IFNAME")]
    [InlineData("CHECK", "CNI_CONTAINERID")]
    [InlineData("CHECK", "CNI_NETNS")]
    [InlineData("CHECK", "CNI_IFNAME")]
    [InlineData("DEL", "CNI_CONTAINERID")]
    [InlineData("DEL", "CNI_IFNAME")]
    public void A_missing_required_variable_is_error_4_naming_it(string command, string variable)
    {
        var e = Fails(CniInputs.Env(command).Without(variable), CniInputs.Config().Text());
        Assert.Equal(4, e.Code);
        Assert.Contains(variable, e.Msg);
        Assert.Contains(command, e.Msg);
        Assert.Null(e.CniVersion); // the configuration was not read: printed under our newest version
    }

    [Fact]
    public void Every_missing_variable_is_named_at_once_and_an_empty_one_counts_as_missing()
    {
        var e = Fails(CniInputs.Env("ADD").Without("CNI_CONTAINERID").With("CNI_NETNS", ""), CniInputs.Config().Text());
        Assert.Equal(4, e.Code);
        Assert.Contains("CNI_CONTAINERID, CNI_NETNS", e.Msg);
    }

    [Fact]
    public void The_environment_is_checked_before_stdin_is_read()
    {
        var e = Assert.Throws<CniException>(() => CniRequest.Parse(CniInputs.Env("ADD").Without("CNI_NETNS"),
            () => throw new InvalidOperationException("stdin must not be read"))).Error;
        Assert.Equal(4, e.Code);
    }

    [Theory]
    [InlineData("CNI_CONTAINERID", "-leading-dash")]
    [InlineData("CNI_CONTAINERID", "has space")]
    [InlineData("CNI_CONTAINERID", "semi;colon")]
    [InlineData("CNI_IFNAME", "a-very-long-ifname")]
    [InlineData("CNI_IFNAME", "eth/0")]
    [InlineData("CNI_IFNAME", "eth 0")]
    [InlineData("CNI_IFNAME", "..")]
    [InlineData("CNI_ARGS", "K8S_POD_NAME")]
    public void An_invalid_variable_is_error_4_naming_it(string variable, string value)
    {
        var e = Fails(CniInputs.Env("ADD").With(variable, value), CniInputs.Config().Text());
        Assert.Equal(4, e.Code);
        Assert.Contains(variable, e.Msg);
    }

    [Fact]
    public void Unreadable_stdin_is_error_5()
    {
        var e = Assert.Throws<CniException>(() => CniRequest.Parse(CniInputs.Env("ADD"), () => throw new IOException("broken pipe"))).Error;
        Assert.Equal(5, e.Code);
        Assert.Contains("stdin", e.Msg);
        Assert.Contains("broken pipe", e.Details);
    }

    // --- configuration ---

    [Theory]
    [InlineData("", 6, "no network configuration")]
    [InlineData("   \n", 6, "no network configuration")]
    [InlineData("{", 6, "not valid JSON")]
    [InlineData("{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"type\":\"t\"} trailing", 6, "not valid JSON")]
    [InlineData("{\"cniVersion\":\"1.0.0\",\"cniVersion\":\"0.4.0\",\"name\":\"n\",\"type\":\"t\"}", 6, "not valid JSON")]
    [InlineData("[1,2]", 6, "must be a JSON object, not an array")]
    [InlineData("\"1.0.0\"", 6, "must be a JSON object")]
    [InlineData("{\"name\":\"n\",\"type\":\"t\"}", 7, "missing cniVersion")]
    [InlineData("{\"cniVersion\":1,\"name\":\"n\",\"type\":\"t\"}", 7, "cniVersion must be a string")]
    [InlineData("{\"cniVersion\":\"0.2.0\",\"name\":\"n\",\"type\":\"t\"}", 1, "incompatible CNI version '0.2.0'")]
    [InlineData("{\"cniVersion\":\"2.0.0\",\"name\":\"n\",\"type\":\"t\"}", 1, "incompatible CNI version '2.0.0'")]
    [InlineData("{\"cniVersion\":\"1.0\",\"name\":\"n\",\"type\":\"t\"}", 1, "incompatible CNI version '1.0'")]
    [InlineData("{\"cniVersion\":\"1.0.0\",\"type\":\"t\"}", 7, "missing name")]
    [InlineData("{\"cniVersion\":\"1.0.0\",\"name\":\"\",\"type\":\"t\"}", 7, "name must not be empty")]
    [InlineData("{\"cniVersion\":\"1.0.0\",\"name\":\"n\"}", 7, "missing type")]
    [InlineData("{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"type\":[\"t\"]}", 7, "type must be a string, not an array")]
    [InlineData("{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"type\":\"t\",\"failOpen\":\"yes\"}", 7, "failOpen must be true or false")]
    [InlineData("{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"type\":\"t\",\"logLevel\":\"loud\"}", 7, "logLevel 'loud'")]
    [InlineData("{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"type\":\"t\",\"agentSocket\":\"agent.sock\"}", 7, "agentSocket 'agent.sock' must be an absolute path")]
    [InlineData("{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"type\":\"t\",\"agentSocket\":5}", 7, "agentSocket must be a string")]
    [InlineData("{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"type\":\"t\",\"prevResult\":[]}", 7, "prevResult must be a JSON object")]
    public void Bad_configuration_gets_the_right_code_and_names_the_problem(string stdin, int code, string message)
    {
        var e = Fails(CniInputs.Env("ADD"), stdin);
        Assert.Equal(code, e.Code);
        Assert.Contains(message, e.Msg);
    }

    [Fact]
    public void An_overlong_socket_path_is_refused_before_any_connection()
    {
        var e = Fails(CniInputs.Env("ADD"), CniInputs.Config(socket: "/" + new string('s', 107)).Text());
        Assert.Equal(7, e.Code);
        Assert.Contains("longer than a Unix socket path", e.Msg);
    }

    [Fact]
    public void An_unsupported_version_error_lists_the_supported_ones_and_speaks_our_newest_version()
    {
        var e = Fails(CniInputs.Env("ADD"), CniInputs.Config("0.2.0").Text());
        Assert.Equal(1, e.Code);
        Assert.Contains("0.3.0, 0.3.1, 0.4.0, 1.0.0, 1.1.0", e.Details);
        Assert.Null(e.CniVersion); // printed as 1.1.0
    }

    [Fact]
    public void Errors_found_after_the_version_carry_the_configuration_version()
    {
        var config = CniInputs.Config("0.4.0");
        config.Remove("name");
        Assert.Equal("0.4.0", Fails(CniInputs.Env("ADD"), config.Text()).CniVersion);
    }

    [Theory]
    [InlineData("0.3.0")]
    [InlineData("0.3.1")]
    public void CHECK_under_a_version_before_0_4_0_is_error_1(string version)
    {
        var e = Fails(CniInputs.Env("CHECK"), CniInputs.Config(version).Text());
        Assert.Equal(1, e.Code);
        Assert.Contains("CHECK", e.Msg);
        Assert.Contains(version, e.Msg);
    }
}

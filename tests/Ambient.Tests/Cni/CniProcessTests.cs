using System.Text.Json.Nodes;

namespace Ambient.Tests.Cni;

/// <summary>
/// The built plugin as a container runtime runs it (<c>dotnet ambient-cni.dll</c>, CNI_* variables, configuration on
/// stdin) against a fake node agent on a real Unix socket.
/// </summary>
public sealed class CniProcessTests : IAsyncLifetime
{
    private readonly FakeAgent _agent = new();

    public Task InitializeAsync() => Task.CompletedTask;
    public async Task DisposeAsync() => await _agent.DisposeAsync();

    private Task<PluginRun> RunAsync(string command, JsonObject config, Action<Dictionary<string, string?>>? env = null)
    {
        var vars = CniInputs.Env(command);
        env?.Invoke(vars);
        return PluginProcess.RunAsync(vars, config.Text());
    }

    private JsonObject Config(string version = "1.0.0", bool withPrevResult = true, bool? failOpen = null) =>
        CniInputs.Config(version, withPrevResult, _agent.SocketPath, failOpen, logLevel: "debug");

    [Fact]
    public async Task Help_says_what_the_plugin_is_and_shows_a_conflist_entry_that_parses()
    {
        var run = await PluginProcess.RunAsync(new Dictionary<string, string?>(), null, "--help");
        Assert.Equal(0, run.ExitCode);
        foreach (var text in new[] { "CNI plugin", "chained", "agentSocket", "/var/run/ambient/cni-agent.sock", "failOpen", "logLevel", "\"type\": \"ambient-cni\"" })
            Assert.Contains(text, run.Stdout);

        int start = run.Stdout.IndexOf("{\n", StringComparison.Ordinal), end = run.Stdout.IndexOf("\n}", StringComparison.Ordinal);
        var conflist = JsonNode.Parse(run.Stdout[start..(end + 2)])!;
        Assert.Equal("ambient-cni", conflist["plugins"]![1]!["type"]!.GetValue<string>());
    }

    [Fact]
    public async Task VERSION_prints_the_supported_versions()
    {
        var run = await PluginProcess.RunAsync(new Dictionary<string, string?> { ["CNI_COMMAND"] = "VERSION" }, null);
        Assert.Equal(0, run.ExitCode);
        Assert.True(JsonNode.DeepEquals(
            JsonNode.Parse("""{"cniVersion":"1.1.0","supportedVersions":["0.3.0","0.3.1","0.4.0","1.0.0","1.1.0"]}"""), run.Json), run.ToString());
    }

    [Fact]
    public async Task ADD_forwards_the_pod_to_the_agent_and_prints_prevResult()
    {
        var run = await RunAsync("ADD", Config("1.1.0"));

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.True(JsonNode.DeepEquals(CniInputs.PrevResult("1.1.0"), run.Json), run.ToString());
        var request = Assert.Single(_agent.Requests);
        var expected = JsonNode.Parse($$"""
            {"event":"add","containerId":"{{CniInputs.ContainerId}}","netns":"{{CniInputs.Netns}}","ifname":"eth0",
             "podName":"web-0","podNamespace":"shop","podUid":"{{CniInputs.PodUid}}","ips":["10.1.0.5","fd00:10:1::5"]}
            """);
        Assert.True(JsonNode.DeepEquals(expected, request), request.Text());
        Assert.Contains("level=info", run.Stderr);
    }

    [Fact]
    public async Task ADD_refused_by_the_agent_fails_with_its_reason()
    {
        _agent.Respond = _ => """{"ok":false,"error":"cannot enter netns: no such file"}""";
        var run = await RunAsync("ADD", Config());
        Assert.Equal(100, run.ErrorCode());
        Assert.Contains("cannot enter netns: no such file", run.Msg);
        Assert.Single(_agent.Requests);
    }

    [Fact]
    public async Task ADD_with_the_agent_absent_is_error_11_naming_the_socket()
    {
        await _agent.DisposeAsync();
        var run = await RunAsync("ADD", Config());
        Assert.Equal(11, run.ErrorCode());
        Assert.Contains(_agent.SocketPath, run.Msg);
        Assert.Contains("does not exist", run.Msg);
    }

    [Fact]
    public async Task ADD_with_the_agent_absent_and_failOpen_succeeds_with_a_warning()
    {
        await _agent.DisposeAsync();
        var run = await RunAsync("ADD", Config(failOpen: true));
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.True(JsonNode.DeepEquals(CniInputs.PrevResult("1.0.0"), run.Json));
        Assert.Contains("level=warn", run.Stderr);
        Assert.Contains(_agent.SocketPath, run.Stderr);
    }

    [Fact]
    public async Task DEL_with_the_agent_absent_succeeds_silently_on_stdout()
    {
        await _agent.DisposeAsync();
        var run = await RunAsync("DEL", Config(withPrevResult: false), env => env.Remove("CNI_NETNS"));
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Equal("", run.Stdout);
        Assert.Contains("DEL succeeds anyway", run.Stderr);
    }

    [Fact]
    public async Task DEL_forwards_the_pod_to_the_agent()
    {
        var run = await RunAsync("DEL", Config());
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Equal("", run.Stdout);
        var request = Assert.Single(_agent.Requests);
        Assert.Equal("del", request["event"]!.GetValue<string>());
        Assert.Equal("shop", request["podNamespace"]!.GetValue<string>());
    }

    [Fact]
    public async Task CHECK_succeeds_for_a_pod_outside_the_mesh_and_fails_with_the_agents_error()
    {
        _agent.Respond = _ => """{"ok":true,"enrolled":false}""";
        var outside = await RunAsync("CHECK", Config());
        Assert.True(outside.ExitCode == 0, outside.ToString());
        Assert.Equal("", outside.Stdout);

        _agent.Respond = _ => """{"ok":false,"error":"redirect rules missing"}""";
        var broken = await RunAsync("CHECK", Config());
        Assert.Equal(100, broken.ErrorCode());
        Assert.Contains("redirect rules missing", broken.Msg);

        Assert.All(_agent.Requests, r => Assert.Equal("check", r["event"]!.GetValue<string>()));
        Assert.Equal(2, _agent.Requests.Count);
    }

    public static TheoryData<string, string, string, int, string> BadInputs() => new()
    {
        { "malformed JSON", "ADD", "{\"cniVersion\":\"1.0.0\",", 6, "not valid JSON" },
        { "missing cniVersion", "ADD", """{"name":"n","type":"ambient-cni","prevResult":{}}""", 7, "missing cniVersion" },
        { "missing name", "ADD", """{"cniVersion":"1.0.0","type":"ambient-cni","prevResult":{}}""", 7, "missing name" },
        { "missing type", "DEL", """{"cniVersion":"1.0.0","name":"n"}""", 7, "missing type" },
        { "unknown version", "ADD", """{"cniVersion":"0.2.0","name":"n","type":"ambient-cni","prevResult":{}}""", 1, "'0.2.0'" },
        { "missing CNI_COMMAND", "", """{"cniVersion":"1.0.0","name":"n","type":"ambient-cni","prevResult":{}}""", 4, "CNI_COMMAND" },
        { "unknown command", "PLUMB", """{"cniVersion":"1.0.0","name":"n","type":"ambient-cni","prevResult":{}}""", 4, "'PLUMB'" },
        { "ADD without prevResult", "ADD", """{"cniVersion":"1.0.0","name":"n","type":"ambient-cni"}""", 7, "must be chained after a primary plugin" },
    };

    [Theory]
    [MemberData(nameof(BadInputs))]
    public async Task Bad_input_is_the_right_error_and_changes_nothing(string what, string command, string stdin, int code, string message)
    {
        var config = JsonNode.Parse(stdin.EndsWith('}') ? stdin : "{}")!.AsObject();
        var text = stdin.EndsWith('}') ? WithAgent(config).Text() : stdin;
        var run = await PluginProcess.RunAsync(CniInputs.Env(command), text);

        Assert.True(code == run.ErrorCode(), $"{what}: {run}");
        Assert.Contains(message, run.Msg);
        Assert.Equal(0, _agent.Connections);
    }

    [Theory]
    [InlineData("CNI_CONTAINERID")]
    [InlineData("CNI_NETNS")]
    public async Task A_missing_variable_is_error_4_and_changes_nothing(string variable)
    {
        var run = await RunAsync("ADD", Config(), env => env.Remove(variable));
        Assert.Equal(4, run.ErrorCode());
        Assert.Contains(variable, run.Msg);
        Assert.Equal(0, _agent.Connections);
    }

    /// <summary>Points a bad configuration at the fake agent, so a plugin that wrongly went ahead would be seen.</summary>
    private JsonObject WithAgent(JsonObject config)
    {
        config["agentSocket"] = _agent.SocketPath;
        return config;
    }
}

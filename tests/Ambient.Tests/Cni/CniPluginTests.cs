using System.Text.Json.Nodes;
using Ambient.Cni;

namespace Ambient.Tests.Cni;

/// <summary>Each command end to end in process, against an in-memory agent: what goes to the agent, what comes out.</summary>
public sealed class CniPluginTests
{
    /// <summary>An agent client that records requests and answers with <see cref="Answer"/> (which may throw).</summary>
    private sealed class ScriptedAgent(string socketPath) : IAgentClient
    {
        public string SocketPath { get; } = socketPath;
        public List<AgentRequest> Requests { get; } = [];
        public int Probes { get; private set; }
        public Func<AgentRequest, AgentResponse> Answer { get; set; } = _ => new AgentResponse(true);
        public Exception? ProbeFailure { get; set; }

        public Task<AgentResponse> SendAsync(AgentRequest request, CancellationToken cancellationToken = default)
        {
            Requests.Add(request);
            return Task.FromResult(Answer(request));
        }

        public Task ProbeAsync(CancellationToken cancellationToken = default)
        {
            Probes++;
            return ProbeFailure is null ? Task.CompletedTask : Task.FromException(ProbeFailure);
        }
    }

    private sealed class Harness
    {
        public ScriptedAgent Agent { get; private set; } = new(NetworkConfig.DefaultAgentSocket);
        public int Connects { get; private set; }
        public StringWriter Stderr { get; } = new();

        public async Task<CniOutcome> RunAsync(Dictionary<string, string?> env, string stdin)
        {
            var plugin = new CniPlugin(config =>
            {
                Connects++;
                Agent = new ScriptedAgent(config.AgentSocket) { Answer = Agent.Answer, ProbeFailure = Agent.ProbeFailure };
                return Agent;
            }, Stderr);
            return await plugin.RunAsync(env, () => stdin);
        }

        public Task<CniOutcome> RunAsync(Dictionary<string, string?> env, JsonNode config) => RunAsync(env, config.Text());
    }

    private static readonly AgentUnavailableException Unreachable =
        new("cannot reach the ambient node agent at /var/run/ambient/cni-agent.sock: the socket does not exist");

    private static JsonObject ErrorJson(CniOutcome outcome)
    {
        Assert.Equal(1, outcome.ExitCode);
        var json = JsonNode.Parse(outcome.Stdout)!.AsObject();
        Assert.Subset(new HashSet<string> { "cniVersion", "code", "msg", "details" }, json.Select(p => p.Key).ToHashSet());
        return json;
    }

    private static int Code(CniOutcome outcome) => ErrorJson(outcome)["code"]!.GetValue<int>();
    private static string Msg(CniOutcome outcome) => ErrorJson(outcome)["msg"]!.GetValue<string>();

    // --- VERSION ---

    [Fact]
    public async Task VERSION_prints_our_version_and_every_supported_one()
    {
        var outcome = await new Harness().RunAsync(new() { ["CNI_COMMAND"] = "VERSION" }, "");
        Assert.Equal(0, outcome.ExitCode);
        var expected = JsonNode.Parse("""{"cniVersion":"1.1.0","supportedVersions":["0.3.0","0.3.1","0.4.0","1.0.0","1.1.0"]}""");
        Assert.True(JsonNode.DeepEquals(expected, JsonNode.Parse(outcome.Stdout)), outcome.Stdout);
    }

    // --- ADD ---

    [Theory]
    [MemberData(nameof(CniInputs.EachVersion), MemberType = typeof(CniInputs))]
    public async Task ADD_tells_the_agent_and_prints_prevResult_unchanged(string version)
    {
        var h = new Harness();
        var outcome = await h.RunAsync(CniInputs.Env("ADD"), CniInputs.Config(version));

        Assert.Equal(0, outcome.ExitCode);
        Assert.True(JsonNode.DeepEquals(CniInputs.PrevResult(version), JsonNode.Parse(outcome.Stdout)), outcome.Stdout);
        var sent = Assert.Single(h.Agent.Requests);
        Assert.Equal(new AgentRequest("add", CniInputs.ContainerId, CniInputs.Netns, "eth0", "web-0", "shop", CniInputs.PodUid, sent.Ips), sent);
        Assert.Equal(["10.1.0.5", "fd00:10:1::5"], sent.Ips);
    }

    [Fact]
    public async Task ADD_labels_a_prevResult_without_cniVersion_with_the_configuration_version()
    {
        var config = CniInputs.Config("0.4.0");
        config["prevResult"]!.AsObject().Remove("cniVersion");
        var outcome = await new Harness().RunAsync(CniInputs.Env("ADD"), config);
        Assert.Equal("0.4.0", JsonNode.Parse(outcome.Stdout)!["cniVersion"]!.GetValue<string>());
    }

    [Fact]
    public async Task ADD_without_prevResult_is_error_7_must_be_chained_and_the_agent_hears_nothing()
    {
        var h = new Harness();
        var outcome = await h.RunAsync(CniInputs.Env("ADD"), CniInputs.Config(withPrevResult: false));
        Assert.Equal(7, Code(outcome));
        Assert.Contains("must be chained after a primary plugin", Msg(outcome));
        Assert.Equal("1.0.0", ErrorJson(outcome)["cniVersion"]!.GetValue<string>());
        Assert.Empty(h.Agent.Requests);
    }

    [Fact]
    public async Task ADD_refused_by_the_agent_is_error_100_with_the_agents_reason()
    {
        var h = new Harness();
        h.Agent.Answer = _ => new AgentResponse(false, "iptables-restore failed in netns: exit status 4");
        var outcome = await h.RunAsync(CniInputs.Env("ADD"), CniInputs.Config("0.4.0"));
        Assert.Equal(100, Code(outcome));
        Assert.Contains("iptables-restore failed in netns: exit status 4", Msg(outcome));
        Assert.Contains("shop/web-0", Msg(outcome));
        Assert.Equal("0.4.0", ErrorJson(outcome)["cniVersion"]!.GetValue<string>());
    }

    [Fact]
    public async Task ADD_with_the_agent_unreachable_is_error_11_naming_the_socket()
    {
        var h = new Harness();
        h.Agent.Answer = _ => throw Unreachable;
        var outcome = await h.RunAsync(CniInputs.Env("ADD"), CniInputs.Config());
        Assert.Equal(11, Code(outcome));
        Assert.Contains("/var/run/ambient/cni-agent.sock", Msg(outcome));
        Assert.Contains("failOpen", ErrorJson(outcome)["details"]!.GetValue<string>());
    }

    [Fact]
    public async Task ADD_with_the_agent_unreachable_and_failOpen_succeeds_and_says_so_on_stderr()
    {
        var h = new Harness();
        h.Agent.Answer = _ => throw Unreachable;
        var outcome = await h.RunAsync(CniInputs.Env("ADD"), CniInputs.Config(failOpen: true));
        Assert.Equal(0, outcome.ExitCode);
        Assert.True(JsonNode.DeepEquals(CniInputs.PrevResult("1.0.0"), JsonNode.Parse(outcome.Stdout)));
        Assert.Contains("level=warn", h.Stderr.ToString());
        Assert.Contains("failOpen is set", h.Stderr.ToString());
        Assert.Contains("pod=shop/web-0", h.Stderr.ToString());
    }

    [Fact]
    public async Task FailOpen_does_not_override_a_refusal_and_logLevel_error_silences_warnings()
    {
        var h = new Harness();
        h.Agent.Answer = _ => new AgentResponse(false, "no");
        Assert.Equal(100, Code(await h.RunAsync(CniInputs.Env("ADD"), CniInputs.Config(failOpen: true))));

        var quiet = new Harness();
        quiet.Agent.Answer = _ => throw Unreachable;
        Assert.Equal(0, (await quiet.RunAsync(CniInputs.Env("ADD"), CniInputs.Config(failOpen: true, logLevel: "error"))).ExitCode);
        Assert.Equal("", quiet.Stderr.ToString());
    }

    [Fact]
    public async Task ADD_with_a_garbled_agent_answer_is_error_101()
    {
        var h = new Harness();
        h.Agent.Answer = _ => throw new AgentProtocolException("the node agent at /x answered something that is not an agent response: 'HTTP/1.1 400'");
        var outcome = await h.RunAsync(CniInputs.Env("ADD"), CniInputs.Config());
        Assert.Equal(101, Code(outcome));
        Assert.Contains("HTTP/1.1 400", Msg(outcome));
    }

    [Fact]
    public async Task ADD_with_a_malformed_prevResult_is_error_7_and_the_agent_hears_nothing()
    {
        var h = new Harness();
        var config = CniInputs.Config();
        config["prevResult"]!["ips"]![0]!["address"] = "not-an-ip";
        var outcome = await h.RunAsync(CniInputs.Env("ADD"), config);
        Assert.Equal(7, Code(outcome));
        Assert.Contains("prevResult.ips[0].address 'not-an-ip'", Msg(outcome));
        Assert.Equal(0, h.Connects);
    }

    [Fact]
    public async Task An_unexpected_exception_becomes_error_102_not_a_crash()
    {
        var h = new Harness();
        h.Agent.Answer = _ => throw new InvalidOperationException("boom");
        var outcome = await h.RunAsync(CniInputs.Env("ADD"), CniInputs.Config());
        Assert.Equal(102, Code(outcome));
        Assert.Contains("boom", Msg(outcome));
    }

    // --- DEL ---

    [Fact]
    public async Task DEL_tells_the_agent_and_prints_nothing()
    {
        var h = new Harness();
        var outcome = await h.RunAsync(CniInputs.Env("DEL"), CniInputs.Config());
        Assert.Equal(CniOutcome.Empty, outcome);
        var sent = Assert.Single(h.Agent.Requests);
        Assert.Equal("del", sent.Event);
        Assert.Equal(CniInputs.Netns, sent.Netns);
        Assert.Equal(["10.1.0.5", "fd00:10:1::5"], sent.Ips);
    }

    [Fact]
    public async Task DEL_without_netns_or_prevResult_still_tells_the_agent_with_empty_fields()
    {
        var h = new Harness();
        var outcome = await h.RunAsync(CniInputs.Env("DEL").Without("CNI_NETNS", "CNI_ARGS"), CniInputs.Config(withPrevResult: false));
        Assert.Equal(CniOutcome.Empty, outcome);
        var sent = Assert.Single(h.Agent.Requests);
        Assert.Equal(new AgentRequest("del", CniInputs.ContainerId, "", "eth0", "", "", "", sent.Ips), sent);
        Assert.Empty(sent.Ips);
    }

    [Theory]
    [InlineData("unreachable")]
    [InlineData("refused")]
    [InlineData("garbled")]
    [InlineData("bad prevResult")]
    public async Task DEL_succeeds_whatever_the_agent_does(string trouble)
    {
        var h = new Harness();
        var config = CniInputs.Config();
        h.Agent.Answer = trouble switch
        {
            "unreachable" => _ => throw Unreachable,
            "refused" => _ => new AgentResponse(false, "unknown pod"),
            "garbled" => _ => throw new AgentProtocolException("garbage"),
            _ => _ => new AgentResponse(true),
        };
        if (trouble == "bad prevResult") config["prevResult"]!["ips"] = "10.1.0.5";
        var outcome = await h.RunAsync(CniInputs.Env("DEL"), config);
        Assert.Equal(CniOutcome.Empty, outcome);
        Assert.Contains("level=warn", h.Stderr.ToString());
    }

    // --- CHECK ---

    [Theory]
    [InlineData(null)]
    [InlineData(true)]
    [InlineData(false)]
    public async Task CHECK_succeeds_when_the_agent_is_content_or_the_pod_is_not_in_the_mesh(bool? enrolled)
    {
        var h = new Harness();
        h.Agent.Answer = _ => new AgentResponse(true, null, enrolled);
        var outcome = await h.RunAsync(CniInputs.Env("CHECK"), CniInputs.Config("0.4.0"));
        Assert.Equal(CniOutcome.Empty, outcome);
        var sent = Assert.Single(h.Agent.Requests);
        Assert.Equal("check", sent.Event);
        Assert.Equal("web-0", sent.PodName);
        Assert.Equal(["10.1.0.5", "fd00:10:1::5"], sent.Ips);
    }

    [Fact]
    public async Task CHECK_fails_with_error_100_and_the_agents_message_when_the_pod_is_not_set_up()
    {
        var h = new Harness();
        h.Agent.Answer = _ => new AgentResponse(false, "redirect rules missing in the pod's netns");
        var outcome = await h.RunAsync(CniInputs.Env("CHECK"), CniInputs.Config());
        Assert.Equal(100, Code(outcome));
        Assert.Contains("redirect rules missing in the pod's netns", Msg(outcome));
    }

    [Fact]
    public async Task CHECK_with_the_agent_unreachable_is_error_11_or_success_with_failOpen()
    {
        var h = new Harness();
        h.Agent.Answer = _ => throw Unreachable;
        Assert.Equal(11, Code(await h.RunAsync(CniInputs.Env("CHECK"), CniInputs.Config())));
        Assert.Equal(CniOutcome.Empty, await h.RunAsync(CniInputs.Env("CHECK"), CniInputs.Config(failOpen: true)));
    }

    [Fact]
    public async Task CHECK_without_prevResult_is_error_7()
    {
        var h = new Harness();
        var outcome = await h.RunAsync(CniInputs.Env("CHECK"), CniInputs.Config(withPrevResult: false));
        Assert.Equal(7, Code(outcome));
        Assert.Contains("prevResult", Msg(outcome));
        Assert.Equal(0, h.Connects);
    }

    // --- STATUS, GC ---

    [Fact]
    public async Task STATUS_probes_the_agent_error_50_when_unreachable_unless_failOpen()
    {
        var env = new Dictionary<string, string?> { ["CNI_COMMAND"] = "STATUS" };
        var h = new Harness();
        Assert.Equal(CniOutcome.Empty, await h.RunAsync(env, CniInputs.Config("1.1.0", withPrevResult: false)));
        Assert.Equal(1, h.Agent.Probes);
        Assert.Empty(h.Agent.Requests);

        h.Agent.ProbeFailure = Unreachable;
        var down = await h.RunAsync(env, CniInputs.Config("1.1.0", withPrevResult: false));
        Assert.Equal(50, Code(down));
        Assert.Contains("/var/run/ambient/cni-agent.sock", Msg(down));

        Assert.Equal(CniOutcome.Empty, await h.RunAsync(env, CniInputs.Config("1.1.0", withPrevResult: false, failOpen: true)));
    }

    [Fact]
    public async Task GC_succeeds_without_talking_to_the_agent()
    {
        var h = new Harness();
        var outcome = await h.RunAsync(new() { ["CNI_COMMAND"] = "GC" }, CniInputs.Config("1.1.0", withPrevResult: false));
        Assert.Equal(CniOutcome.Empty, outcome);
        Assert.Equal(0, h.Connects);
    }

    // --- bad input changes nothing ---

    public static TheoryData<string, string, string, int> BadInvocations() => new()
    {
        { "malformed JSON", "ADD", "{\"cniVersion\":", 6 },
        { "missing cniVersion", "ADD", """{"name":"n","type":"ambient-cni","prevResult":{}}""", 7 },
        { "missing name", "DEL", """{"cniVersion":"1.0.0","type":"ambient-cni"}""", 7 },
        { "missing type", "CHECK", """{"cniVersion":"1.0.0","name":"n","prevResult":{}}""", 7 },
        { "unknown version", "DEL", """{"cniVersion":"0.9.9","name":"n","type":"ambient-cni"}""", 1 },
        { "no CNI_COMMAND", "", CniInputs.Config().Text(), 4 },
        { "unknown command", "SETUP", CniInputs.Config().Text(), 4 },
        { "no prevResult", "ADD", CniInputs.Config(withPrevResult: false).Text(), 7 },
        { "bad failOpen", "DEL", """{"cniVersion":"1.0.0","name":"n","type":"ambient-cni","failOpen":1}""", 7 },
    };

    [Theory]
    [MemberData(nameof(BadInvocations))]
    public async Task Bad_input_is_an_error_and_the_agent_is_never_contacted(string what, string command, string stdin, int code)
    {
        var h = new Harness();
        var outcome = await h.RunAsync(CniInputs.Env(command), stdin);
        Assert.True(code == Code(outcome), $"{what}: {outcome.Stdout}");
        Assert.Equal(0, h.Connects);
    }

    [Theory]
    [InlineData("CNI_CONTAINERID")]
    [InlineData("CNI_NETNS")]
    [InlineData("CNI_IFNAME")]
    public async Task A_missing_variable_is_error_4_and_the_agent_is_never_contacted(string variable)
    {
        var h = new Harness();
        var outcome = await h.RunAsync(CniInputs.Env("ADD").Without(variable), CniInputs.Config());
        Assert.Equal(4, Code(outcome));
        Assert.Contains(variable, Msg(outcome));
        Assert.Equal(0, h.Connects);
    }
}

using System.Diagnostics;
using System.Text.Json.Nodes;
using Ambient.Cni;

namespace Ambient.Tests.Cni;

/// <summary>The client side of the agent protocol over a real Unix socket: the exact wire format, and every way the
/// agent can fail to answer.</summary>
public sealed class AgentClientTests : IAsyncLifetime
{
    private readonly FakeAgent _agent = new();

    public Task InitializeAsync() => Task.CompletedTask;
    public async Task DisposeAsync() => await _agent.DisposeAsync();

    private static readonly AgentRequest Add = new("add", "c0ffee", "/var/run/netns/cni-1", "eth0", "web-0", "shop", "uid-1", ["10.1.0.5", "fd00::5"]);

    private UnixAgentClient Client(TimeSpan? timeout = null) => new(_agent.SocketPath, timeout ?? TimeSpan.FromSeconds(5));

    [Fact]
    public async Task A_request_is_one_compact_JSON_line_with_every_field_in_order()
    {
        var response = await Client().SendAsync(Add);

        Assert.True(response.Ok);
        Assert.Equal(
            """{"event":"add","containerId":"c0ffee","netns":"/var/run/netns/cni-1","ifname":"eth0","podName":"web-0","podNamespace":"shop","podUid":"uid-1","ips":["10.1.0.5","fd00::5"]}""",
            Assert.Single(_agent.Lines));
        Assert.Equal((byte)'\n', AgentProtocol.EncodeRequest(Add)[^1]);
    }

    [Fact]
    public async Task Empty_fields_are_sent_as_empty_strings_and_an_empty_list()
    {
        await Client().SendAsync(new AgentRequest("del", "c0ffee", "", "eth0", "", "", "", []));
        Assert.Equal("""{"event":"del","containerId":"c0ffee","netns":"","ifname":"eth0","podName":"","podNamespace":"","podUid":"","ips":[]}""",
            Assert.Single(_agent.Lines));
    }

    [Theory]
    [InlineData("""{"ok":true}""", true, null, null)]
    [InlineData("""{"ok":false,"error":"pod not found"}""", false, "pod not found", null)]
    [InlineData("""{"ok":true,"enrolled":false}""", true, null, false)]
    [InlineData("""{"enrolled":true,"ok":true,"extra":[1,2]}""", true, null, true)]
    public async Task Responses_are_read_whatever_their_field_order_and_extras(string line, bool ok, string? error, bool? enrolled)
    {
        _agent.Respond = _ => line;
        Assert.Equal(new AgentResponse(ok, error, enrolled), await Client().SendAsync(Add));
    }

    [Theory]
    [InlineData("HTTP/1.1 400 Bad Request")]
    [InlineData("""{"error":"no ok field"}""")]
    [InlineData("""{"ok":"yes"}""")]
    [InlineData("null")]
    [InlineData("[]")]
    public async Task Anything_but_a_response_is_a_protocol_error_quoting_it(string line)
    {
        _agent.Respond = _ => line;
        var e = await Assert.ThrowsAsync<AgentProtocolException>(() => Client().SendAsync(Add));
        Assert.Contains(_agent.SocketPath, e.Message);
    }

    [Fact]
    public async Task An_oversized_response_is_a_protocol_error()
    {
        _agent.Respond = _ => "{\"ok\":true,\"error\":\"" + new string('x', AgentProtocol.MaxResponseBytes) + "\"}";
        await Assert.ThrowsAsync<AgentProtocolException>(() => Client().SendAsync(Add));
    }

    [Fact]
    public async Task Hanging_up_without_an_answer_means_unavailable()
    {
        _agent.Respond = _ => null;
        var e = await Assert.ThrowsAsync<AgentUnavailableException>(() => Client().SendAsync(Add));
        Assert.Contains("closed the connection without answering", e.Message);
    }

    [Fact]
    public async Task No_answer_within_the_deadline_means_unavailable()
    {
        _agent.Hang = true;
        var clock = Stopwatch.StartNew();
        var e = await Assert.ThrowsAsync<AgentUnavailableException>(() => Client(TimeSpan.FromMilliseconds(300)).SendAsync(Add));
        Assert.InRange(clock.Elapsed, TimeSpan.FromMilliseconds(250), TimeSpan.FromSeconds(4));
        Assert.Contains("no answer from the ambient node agent", e.Message);
        Assert.Contains("within 0.3 s", e.Message);
    }

    [Fact]
    public void The_default_deadline_is_five_seconds() => Assert.Equal(TimeSpan.FromSeconds(5), UnixAgentClient.DefaultTimeout);

    [Fact]
    public async Task A_missing_socket_or_a_file_nobody_listens_on_means_unavailable_naming_the_path()
    {
        string missing = _agent.SocketPath + ".missing";
        var e = await Assert.ThrowsAsync<AgentUnavailableException>(() => new UnixAgentClient(missing).SendAsync(Add));
        Assert.Equal($"cannot reach the ambient node agent at {missing}: the socket does not exist", e.Message);

        string plain = _agent.SocketPath + ".file";
        File.WriteAllText(plain, "");
        try
        {
            e = await Assert.ThrowsAsync<AgentUnavailableException>(() => new UnixAgentClient(plain).SendAsync(Add));
            Assert.Contains(plain, e.Message);
            Assert.Contains("connection refused", e.Message);
        }
        finally { File.Delete(plain); }
    }

    [Fact]
    public async Task A_probe_connects_and_sends_nothing()
    {
        await Client().ProbeAsync();
        await WaitForAsync(() => _agent.Connections == 1);
        Assert.Empty(_agent.Lines);
        await Assert.ThrowsAsync<AgentUnavailableException>(() => new UnixAgentClient(_agent.SocketPath + ".missing").ProbeAsync());
    }

    [Fact]
    public void Decoding_ignores_what_it_does_not_know()
    {
        var r = AgentProtocol.DecodeResponse("""{"ok":false,"error":"e","enrolled":true,"detail":{"x":1}}"""u8);
        Assert.Equal(new AgentResponse(false, "e", true), r);
        Assert.NotNull(JsonNode.Parse(AgentProtocol.EncodeRequest(Add)));
    }

    private static async Task WaitForAsync(Func<bool> condition)
    {
        for (var clock = Stopwatch.StartNew(); !condition(); await Task.Delay(10))
            if (clock.Elapsed > TimeSpan.FromSeconds(5)) throw new TimeoutException();
    }
}

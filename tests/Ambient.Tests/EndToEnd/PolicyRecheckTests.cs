using System.Net;
using System.Net.Sockets;
using Ambient.Tests.Support;

namespace Ambient.Tests.EndToEnd;

/// <summary>A policy change applies to connections already open, not only to new ones.</summary>
public sealed class PolicyRecheckTests : IAsyncLifetime
{
    private readonly LocalMesh _mesh = new();
    private readonly TestWorkload _client = new("sleep", "node-a", "sleep");
    private readonly TestWorkload _other = new("curl", "node-a", "curl");
    private readonly TestWorkload _server = new("echo", "node-b", "echo");
    private EchoServer _echo = null!;

    private const string DenySleep = """
        authorizationPolicies:
          - metadata: {name: deny-sleep, namespace: default}
            spec:
              selector: {matchLabels: {app: echo}}
              action: DENY
              rules: [{from: [{source: {principals: ["cluster.local/ns/default/sa/sleep"]}}]}]

        """;

    public async Task InitializeAsync()
    {
        _echo = new EchoServer(_server.Address, 8080);
        _mesh.WriteConfig(LocalMesh.Config([_client, _other, _server]));
        await _mesh.StartAsync("node-a", "node-b");
    }

    public async Task DisposeAsync()
    {
        await _mesh.DisposeAsync();
        await _echo.DisposeAsync();
    }

    private async Task<Socket> OpenAsync(TestWorkload from)
    {
        var s = await Socks5Client.ConnectAsync(from.Socks5, new IPEndPoint(_server.Address, 8080));
        await s.SendAsync("hello"u8.ToArray(), SocketFlags.None);
        Assert.Equal("hello"u8.ToArray(), await Socks5Client.ReadExactlyAsync(s, 5, default));
        return s;
    }

    [Fact]
    public async Task A_deny_policy_added_while_a_connection_is_open_closes_it_and_spares_others()
    {
        using var denied = await OpenAsync(_client);
        using var spared = await OpenAsync(_other);

        _mesh.WriteConfig(LocalMesh.Config([_client, _other, _server], extra: DenySleep));

        // The open connection from sleep ends (reset or EOF) soon after the reload…
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var buffer = new byte[16];
        int n;
        try { n = await denied.ReceiveAsync(buffer, SocketFlags.None, cts.Token); }
        catch (SocketException) { n = 0; }
        Assert.Equal(0, n);
        Assert.NotNull(await _mesh.Logs.WaitForAsync(TimeSpan.FromSeconds(5), "no longer allowed", "denied by DENY policy default/deny-sleep"));

        // …the one from curl keeps working, and new connections from sleep are refused.
        await spared.SendAsync("still"u8.ToArray(), SocketFlags.None);
        Assert.Equal("still"u8.ToArray(), await Socks5Client.ReadExactlyAsync(spared, 5, default));
        await Assert.ThrowsAsync<Socks5RefusedException>(() => Socks5Client.ConnectAsync(_client.Socks5, new IPEndPoint(_server.Address, 8080)));
    }
}

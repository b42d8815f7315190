using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Ambient.Tests.Support;

namespace Ambient.Tests.Observability;

/// <summary>The admin API (<c>127.0.0.1:15000</c>) of the daemon binary: what it answers, what it refuses.</summary>
public sealed class AdminApiTests : IAsyncLifetime
{
    private readonly string _dir = Directory.CreateTempSubdirectory("ambient-admin-").FullName;
    private readonly TestWorkload _sleep = new("sleep", "local", "sleep");
    private readonly TestWorkload _echo = new("echo", "local", "echo");
    private readonly TestWorkload _remote = new("remote", "elsewhere", "remote");
    private readonly HttpClient _http = new();
    private DaemonProcess _daemon = null!;
    private IPEndPoint _admin = null!;

    public async Task InitializeAsync()
    {
        var config = Path.Combine(_dir, "ambient.yaml");
        File.WriteAllText(config, LocalMesh.Config([_sleep, _echo, _remote], extra: """
            authorizationPolicies:
              - metadata: {name: echo-allow-sleep, namespace: default}
                spec:
                  selector: {matchLabels: {app: echo}}
                  rules: [{from: [{source: {principals: ["cluster.local/ns/default/sa/sleep"]}}]}]
              - metadata: {name: broken, namespace: default}
                spec: {action: PERMIT}

            """));
        // Bound to every address (so the loopback check is seen to be more than the bind address), reached via a 127.x one.
        var port = FreePort();
        _admin = new IPEndPoint(TestAddresses.Next(), port);
        _daemon = DaemonProcess.Start("--config", config, "--state-dir", _dir, "--readiness", "off", "--metrics", "off",
            "--admin", $"0.0.0.0:{port}", "--log-format", "json");
        await _daemon.WaitForOutputAsync("ready: serving");
    }

    public Task DisposeAsync()
    {
        _daemon.Dispose();
        _http.Dispose();
        try { Directory.Delete(_dir, true); } catch (IOException) { }
        return Task.CompletedTask;
    }

    private static int FreePort()
    {
        using var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        s.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)s.LocalEndPoint!).Port;
    }

    private async Task<(HttpStatusCode Status, JsonElement Body)> CallAsync(HttpMethod method, string path)
    {
        using var response = await _http.SendAsync(new HttpRequestMessage(method, $"http://{_admin}{path}"));
        var text = await response.Content.ReadAsStringAsync();
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        return (response.StatusCode, JsonDocument.Parse(text).RootElement.Clone());
    }

    [Fact]
    public async Task Workloads_services_policies_and_config_dump_show_the_config_in_its_own_shape()
    {
        var (status, workloads) = await CallAsync(HttpMethod.Get, "/workloads");
        Assert.Equal(HttpStatusCode.OK, status);
        var byName = workloads.GetProperty("workloads").EnumerateArray().ToDictionary(w => w.GetProperty("name").GetString()!);
        Assert.Equal(_sleep.Identity, byName["sleep"].GetProperty("identity").GetString());
        Assert.Equal(_sleep.Address.ToString(), byName["sleep"].GetProperty("addresses")[0].GetString());
        Assert.True(byName["sleep"].GetProperty("local").GetBoolean());
        Assert.False(byName["remote"].GetProperty("local").GetBoolean());

        var (_, policies) = await CallAsync(HttpMethod.Get, "/policies");
        var policy = Assert.Single(policies.GetProperty("authorizationPolicies").EnumerateArray());
        Assert.Equal("echo-allow-sleep", policy.GetProperty("metadata").GetProperty("name").GetString());
        Assert.Equal("ALLOW", policy.GetProperty("spec").GetProperty("action").GetString());
        Assert.Equal("cluster.local/ns/default/sa/sleep",
            policy.GetProperty("spec").GetProperty("rules")[0].GetProperty("from")[0].GetProperty("source").GetProperty("principals")[0].GetString());

        var (_, dump) = await CallAsync(HttpMethod.Get, "/config_dump");
        Assert.Equal(1, dump.GetProperty("generation").GetInt64());
        Assert.Equal(["authorizationPolicies[1]"], dump.GetProperty("rejectedObjects").EnumerateArray().Select(e => e.GetString()!).ToArray());
        Assert.Equal(3, dump.GetProperty("workloads").GetArrayLength());
    }

    [Fact]
    public async Task Certs_show_identity_serial_validity_and_chain()
    {
        var (status, body) = await CallAsync(HttpMethod.Get, "/certs");
        Assert.Equal(HttpStatusCode.OK, status);
        var sleep = body.GetProperty("certificates").EnumerateArray().Single(c => c.GetProperty("identity").GetString() == _sleep.Identity);
        var current = sleep.GetProperty("current");
        Assert.Matches("^[0-9A-F]+$", current.GetProperty("serial").GetString());
        var notAfter = DateTimeOffset.Parse(current.GetProperty("notAfter").GetString()!);
        Assert.InRange(notAfter, DateTimeOffset.UtcNow.AddHours(23), DateTimeOffset.UtcNow.AddHours(25));
        var chain = current.GetProperty("chain");
        Assert.Equal(2, chain.GetArrayLength()); // leaf, then the mesh root
        Assert.Equal(chain[0].GetProperty("issuer").GetString(), chain[1].GetProperty("subject").GetString());
    }

    [Fact]
    public async Task Log_level_changes_at_runtime_and_bad_values_are_refused()
    {
        Assert.Equal("info", (await CallAsync(HttpMethod.Get, "/logging")).Body.GetProperty("level").GetString());
        var (status, error) = await CallAsync(HttpMethod.Post, "/logging?level=loud");
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains("trace, debug, info, warn, error", error.GetProperty("error").GetString());

        Assert.Equal("debug", (await CallAsync(HttpMethod.Post, "/logging?level=debug")).Body.GetProperty("level").GetString());
        Assert.Equal("debug", (await CallAsync(HttpMethod.Get, "/logging")).Body.GetProperty("level").GetString());
        // Debug lines now appear (the admin server logs each request at debug).
        await CallAsync(HttpMethod.Get, "/explain?source=default/sleep&destination=192.0.2.1:80");
        await _daemon.WaitForOutputAsync("\"LogLevel\":\"Debug\"");
    }

    [Theory]
    [InlineData("GET", "/nope", HttpStatusCode.NotFound, "no admin endpoint /nope")]
    [InlineData("GET", "/quitquitquit", HttpStatusCode.MethodNotAllowed, "use POST")]
    [InlineData("POST", "/workloads", HttpStatusCode.MethodNotAllowed, "use GET")]
    [InlineData("GET", "/explain?destination=10.0.0.1:80", HttpStatusCode.BadRequest, "missing parameter 'source'")]
    [InlineData("GET", "/explain?source=default/sleep&destination=nowhere", HttpStatusCode.BadRequest, "is not IP:PORT")]
    [InlineData("GET", "/explain?source=default/ghost&destination=10.0.0.1:80", HttpStatusCode.BadRequest, "is not a workload in the config")]
    public async Task Unknown_paths_wrong_methods_and_bad_parameters_get_clear_4xx(string method, string path, HttpStatusCode expected, string message)
    {
        var (status, body) = await CallAsync(new HttpMethod(method), path);
        Assert.Equal(expected, status);
        Assert.Contains(message, body.GetProperty("error").GetString());
    }

    [Fact]
    public async Task Explain_reports_policies_consulted_and_the_verdict()
    {
        var (status, allowed) = await CallAsync(HttpMethod.Get, $"/explain?source=default/sleep&destination={_echo.Address}:8080");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("ALLOW", allowed.GetProperty("result").GetString());
        Assert.Equal("allowed by ALLOW policy default/echo-allow-sleep", allowed.GetProperty("reason").GetString());
        var verdict = Assert.Single(allowed.GetProperty("policies").EnumerateArray());
        Assert.Equal("matched", verdict.GetProperty("verdict").GetString());

        var (_, denied) = await CallAsync(HttpMethod.Get, $"/explain?source={_remote.Address}&destination={_echo.Address}:8080");
        Assert.Equal("DENY", denied.GetProperty("result").GetString());
        Assert.Equal("no ALLOW policy matched", denied.GetProperty("reason").GetString());

        var (_, outside) = await CallAsync(HttpMethod.Get, "/explain?source=default/sleep&destination=192.0.2.1:443");
        Assert.Equal("PASSTHROUGH", outside.GetProperty("result").GetString());
    }

    [Fact]
    public async Task Clients_that_are_not_on_loopback_are_refused()
    {
        // A non-loopback local address for the client: on a veth pair that exists for this test only.
        var name = "ambadm" + Random.Shared.Next(1000, 9999);
        var address = IPAddress.Parse($"198.18.{Random.Shared.Next(1, 250)}.{Random.Shared.Next(1, 250)}");
        Run("ip", $"link add {name} type veth peer name {name}p");
        try
        {
            Run("ip", $"addr add {address}/32 dev {name}");
            Run("ip", $"link set {name} up");
            Run("ip", $"link set {name}p up");
            using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            client.Bind(new IPEndPoint(address, 0));
            await client.ConnectAsync(new IPEndPoint(address, _admin.Port));
            await client.SendAsync("GET /workloads HTTP/1.1\r\nHost: x\r\n\r\n"u8.ToArray(), SocketFlags.None);
            var answer = System.Text.Encoding.ASCII.GetString(await EndToEnd.TunnelTests.ReadToEndAsync(client, default));
            Assert.StartsWith("HTTP/1.1 403 Forbidden", answer);
            Assert.Contains("only loopback clients are served", answer);
            Assert.DoesNotContain("workloads\"", answer);
        }
        finally
        {
            Run("ip", $"link del {name}");
        }
    }

    private static void Run(string file, string args)
    {
        using var p = Process.Start(new ProcessStartInfo(file, args) { RedirectStandardError = true })!;
        p.WaitForExit();
        if (p.ExitCode != 0) throw new InvalidOperationException($"{file} {args}: {p.StandardError.ReadToEnd()}");
    }
}

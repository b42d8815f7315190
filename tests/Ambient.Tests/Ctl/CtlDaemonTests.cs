using System.Net;
using Ambient.Tests.Support;

namespace Ambient.Tests.Ctl;

/// <summary>
/// One ambient-daemon (host network namespace, its own 127.x addresses) for the tests that only read from it: two
/// local workloads, one remote, a service, an ALLOW policy for one principal and one invalid policy.
/// </summary>
public sealed class CtlDaemonFixture : IAsyncLifetime
{
    private readonly string _dir = Directory.CreateTempSubdirectory("ambient-ctl-").FullName;

    public TestWorkload Sleep { get; } = new("sleep", "local", "sleep");
    public TestWorkload Echo { get; } = new("echo", "local", "echo");
    public TestWorkload Remote { get; } = new("remote", "elsewhere", "remote");
    public IPAddress Vip { get; } = TestAddresses.Next();
    public IPEndPoint Admin { get; } = new(TestAddresses.Next(), 15000);
    public DaemonProcess Daemon { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        var config = Path.Combine(_dir, "ambient.yaml");
        File.WriteAllText(config, LocalMesh.Config([Sleep, Echo, Remote], ("echo", Vip, 80, 8080, ["echo"]), extra: """
            authorizationPolicies:
              - metadata: {name: echo-allow-sleep, namespace: default}
                spec:
                  selector: {matchLabels: {app: echo}}
                  rules: [{from: [{source: {principals: ["cluster.local/ns/default/sa/sleep"]}}]}]
              - metadata: {name: broken, namespace: default}
                spec: {action: PERMIT}

            """));
        Daemon = DaemonProcess.Start("--config", config, "--state-dir", _dir, "--node", "local", "--readiness", "off",
            "--metrics", "off", "--admin", Admin.ToString(), "--log-format", "json");
        await Daemon.WaitForOutputAsync("ready: serving");
    }

    public Task DisposeAsync()
    {
        Daemon.Dispose();
        try { Directory.Delete(_dir, true); } catch (IOException) { }
        return Task.CompletedTask;
    }
}

/// <summary>What a user sees from <c>ambientctl</c> (the binary) against a running daemon, verb by verb.</summary>
public sealed class CtlDaemonTests(CtlDaemonFixture mesh) : IClassFixture<CtlDaemonFixture>
{
    private CtlResult Ctl(params string[] args) => CtlProcess.Run(["--admin", mesh.Admin.ToString(), .. args]);

    /// <summary>Runs a verb that must succeed and returns its table, checking every row lines up under the header.</summary>
    private List<string[]> Table(string verb, string[] headers)
    {
        var result = Ctl(verb);
        Assert.True(result.ExitCode == 0, result.ToString());
        var lines = result.StdOut.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var rows = CtlProcess.TableRows(result.StdOut);
        Assert.Equal(headers, rows[0]);
        // Aligned: each cell starts where its header starts.
        var starts = CellStarts(lines[0], rows[0]);
        for (int r = 1; r < rows.Count; r++)
            Assert.Equal(starts, CellStarts(lines[r], rows[r]));
        return rows;
    }

    /// <summary>Where each cell of a line begins, searching left to right (a cell's text may occur in an earlier one).</summary>
    private static int[] CellStarts(string line, string[] cells)
    {
        var starts = new int[cells.Length];
        for (int c = 0, from = 0; c < cells.Length; from = starts[c] + cells[c].Length, c++)
            starts[c] = line.IndexOf(cells[c], from, StringComparison.Ordinal);
        return starts;
    }

    private async Task<string> AdminBodyAsync(string path)
    {
        using var http = new HttpClient();
        return await http.GetStringAsync($"http://{mesh.Admin}{path}");
    }

    [Fact]
    public void Workloads_table_has_a_row_per_workload()
    {
        var rows = Table("workloads", ["NAMESPACE", "NAME", "ADDRESS", "NODE", "PROTOCOL", "IDENTITY", "WAYPOINT", "LOCAL"]);
        var byName = rows.Skip(1).ToDictionary(r => r[1]);
        Assert.Equal(["default", "sleep", mesh.Sleep.Address.ToString(), "local", "HBONE", mesh.Sleep.Identity, "<none>", "true"], byName["sleep"]);
        Assert.Equal("false", byName["remote"][7]);
        Assert.Equal(3, rows.Count - 1);
    }

    [Theory]
    [InlineData("workloads", "/workloads")]
    [InlineData("services", "/services")]
    [InlineData("policies", "/policies")]
    [InlineData("config-dump", "/config_dump")]
    public async Task Json_output_is_the_daemons_json_unchanged(string verb, string path)
    {
        var result = Ctl("-o", "json", verb);
        Assert.Equal(0, result.ExitCode);
        Assert.Equal((await AdminBodyAsync(path)).TrimEnd('\n'), result.StdOut.TrimEnd('\n'));
    }

    [Fact]
    public void Services_table_shows_vip_port_mapping_and_endpoints()
    {
        var rows = Table("services", ["NAMESPACE", "NAME", "VIPS", "PORTS", "ENDPOINTS", "WAYPOINT"]);
        Assert.Equal(["default", "echo", mesh.Vip.ToString(), "80->8080", mesh.Echo.Address.ToString(), "<none>"], Assert.Single(rows.Skip(1)));
    }

    [Fact]
    public void Policies_table_shows_the_policy_in_force_and_not_the_rejected_one()
    {
        var rows = Table("policies", ["KIND", "NAMESPACE", "NAME", "ACTION", "SCOPE", "RULES"]);
        Assert.Equal(["AuthorizationPolicy", "default", "echo-allow-sleep", "ALLOW", "selector app=echo", "1"], Assert.Single(rows.Skip(1)));
    }

    [Fact]
    public void Certs_table_shows_each_local_identity_with_its_expiry()
    {
        var rows = Table("certs", ["IDENTITY", "SERIAL", "NOT-AFTER", "EXPIRES-IN"]);
        var sleep = rows.Single(r => r[0] == mesh.Sleep.Identity);
        Assert.Matches("^[0-9A-F]+$", sleep[1]);
        Assert.InRange(DateTimeOffset.Parse(sleep[2]), DateTimeOffset.UtcNow.AddHours(23), DateTimeOffset.UtcNow.AddHours(25));
        Assert.Matches("^2[34]h[0-9]+m$", sleep[3]);
        Assert.DoesNotContain(rows, r => r[0] == mesh.Remote.Identity); // not served here: no certificate
    }

    [Fact]
    public void Config_dump_summarises_and_names_rejected_objects()
    {
        var result = Ctl("config-dump");
        Assert.Equal(0, result.ExitCode);
        var rows = CtlProcess.TableRows(result.StdOut);
        Assert.Equal(["GENERATION", "SOURCE", "TRUST-DOMAIN", "WORKLOADS", "SERVICES", "POLICIES", "CERTIFICATES", "REJECTED"], rows[0]);
        Assert.Equal("1", rows[1][0]);
        Assert.Equal(["cluster.local", "3", "1", "1"], rows[1][2..6]);
        Assert.Equal("1", rows[1][7]);
        Assert.Contains("  authorizationPolicies[1]\n", result.StdOut);
    }

    [Fact]
    public void Explain_prints_steps_policies_and_verdict_and_exits_by_it()
    {
        var allowed = Ctl("explain", "default/sleep", $"{mesh.Vip}:80");
        Assert.True(allowed.ExitCode == 0, allowed.ToString());
        Assert.Contains($"DESTINATION:  {mesh.Vip}:80", allowed.StdOut);
        Assert.Matches(@"(?m)^destination +.* is service default/echo .*port 80 → target port 8080$", allowed.StdOut);
        Assert.Matches(@"(?m)^default/echo-allow-sleep +ALLOW +matched$", allowed.StdOut);
        Assert.EndsWith("RESULT: ALLOW\nREASON: allowed by ALLOW policy default/echo-allow-sleep\n", allowed.StdOut);

        var denied = Ctl("explain", mesh.Remote.Address.ToString(), $"{mesh.Echo.Address}:8080");
        Assert.True(denied.ExitCode == 3, denied.ToString());
        Assert.Matches(@"(?m)^default/echo-allow-sleep +ALLOW +not matched$", denied.StdOut);
        Assert.EndsWith("RESULT: DENY\nREASON: no ALLOW policy matched\n", denied.StdOut);

        // -o json: the daemon's answer, and still the verdict's exit code.
        var json = Ctl("-o", "json", "explain", mesh.Remote.Address.ToString(), $"{mesh.Echo.Address}:8080");
        Assert.Equal(3, json.ExitCode);
        Assert.Equal("DENY", System.Text.Json.JsonDocument.Parse(json.StdOut).RootElement.GetProperty("result").GetString());
    }

    [Fact]
    public void Logs_shows_and_sets_the_level_and_a_bad_level_is_refused_with_the_daemons_message()
    {
        var set = Ctl("logs", "debug");
        Assert.Equal(0, set.ExitCode);
        Assert.Equal("log level: debug\n", set.StdOut);
        Assert.Equal("log level: debug\n", Ctl("logs").StdOut);

        var bad = Ctl("logs", "loud");
        Assert.Equal(2, bad.ExitCode);
        Assert.Contains("parameter 'level' must be one of trace, debug, info, warn, error", bad.StdErr);

        Assert.Equal("log level: info\n", Ctl("logs", "info").StdOut);
    }

    [Fact]
    public void A_request_the_daemon_refuses_prints_its_message_and_exits_2()
    {
        var result = Ctl("explain", "default/ghost", "10.0.0.1:80");
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("source 'default/ghost' is not a workload in the config", result.StdErr);
        Assert.Empty(result.StdOut);
    }

    [Fact]
    public void The_environment_variable_points_at_the_daemon()
    {
        var result = CtlProcess.Run(["workloads"], adminFromEnvironment: mesh.Admin.ToString());
        Assert.Equal(0, result.ExitCode);
        Assert.Contains(mesh.Sleep.Identity, result.StdOut);
    }
}

/// <summary>ambientctl without a (usable) daemon: what it says and how it exits.</summary>
public sealed class CtlErrorTests
{
    [Fact]
    public void An_unreachable_daemon_is_named_with_a_hint_and_exits_1()
    {
        var admin = new IPEndPoint(TestAddresses.Next(), 15000); // nothing listens there
        var result = CtlProcess.Run(["workloads"], adminFromEnvironment: admin.ToString());
        Assert.Equal(1, result.ExitCode);
        Assert.Contains($"cannot reach the daemon's admin API at {admin}", result.StdErr);
        Assert.Contains("--admin ADDR:PORT", result.StdErr);
    }

    [Theory]
    [InlineData(new[] { "frobnicate" }, "unknown verb 'frobnicate'")]
    [InlineData(new[] { "explain", "default/sleep" }, "Usage: ambientctl [--admin ADDR:PORT] [-o table|json] explain SOURCE DESTINATION:PORT")]
    [InlineData(new[] { "-o", "yaml", "workloads" }, "output format 'yaml'")]
    [InlineData(new string[0], "Verbs:")]
    public void Bad_usage_prints_what_is_wrong_and_exits_2(string[] args, string message)
    {
        var result = CtlProcess.Run(args);
        Assert.Equal(2, result.ExitCode);
        Assert.Contains(message, result.StdErr);
    }

    [Fact]
    public void Help_and_version_go_to_stdout_and_exit_0()
    {
        var help = CtlProcess.Run(["--help"]);
        Assert.Equal(0, help.ExitCode);
        Assert.Contains("explain       Explain how a connection would be handled", help.StdOut);

        var verbHelp = CtlProcess.Run(["explain", "--help"]);
        Assert.Equal(0, verbHelp.ExitCode);
        Assert.Contains("Exit status: 0 when the connection would be carried (ALLOW, PASSTHROUGH), 3 when not", verbHelp.StdOut);

        var version = CtlProcess.Run(["--version"]);
        Assert.Equal(0, version.ExitCode);
        Assert.Matches(@"^ambientctl \d+\.\d+\.\d+", version.StdOut);
    }

    [Fact]
    public async Task Quit_makes_the_daemon_drain_and_exit()
    {
        var dir = Directory.CreateTempSubdirectory("ambient-ctl-quit-").FullName;
        try
        {
            var sleep = new TestWorkload("sleep", "local", "sleep");
            var config = Path.Combine(dir, "ambient.yaml");
            File.WriteAllText(config, LocalMesh.Config([sleep]));
            var admin = new IPEndPoint(TestAddresses.Next(), 15000);
            using var daemon = DaemonProcess.Start("--config", config, "--state-dir", dir, "--node", "local", "--readiness", "off",
                "--metrics", "off", "--admin", admin.ToString(), "--log-format", "json");
            await daemon.WaitForOutputAsync("ready: serving");

            var result = CtlProcess.Run(["--admin", admin.ToString(), "quit"]);
            Assert.True(result.ExitCode == 0, result.ToString());
            Assert.Equal($"daemon at {admin}: draining\n", result.StdOut);
            Assert.Equal(0, await daemon.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        }
        finally
        {
            try { Directory.Delete(dir, true); } catch (IOException) { }
        }
    }
}

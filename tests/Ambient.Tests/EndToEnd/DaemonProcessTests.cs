using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Ambient.Tests.Support;

namespace Ambient.Tests.EndToEnd;

/// <summary>The daemon binary as a user runs it: --help, exit codes, config errors, readiness, hot reload, SIGTERM.</summary>
public sealed class DaemonProcessTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "ambient-proc-" + Guid.NewGuid().ToString("N")[..10]);

    public DaemonProcessTests() => Directory.CreateDirectory(_dir);

    public void Dispose()
    {
        try { Directory.Delete(_dir, true); } catch (IOException) { }
    }

    private static string DaemonPath => Path.Combine(AppContext.BaseDirectory, "ambient-daemon.dll");

    private static Process Start(params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(DaemonPath);
        foreach (var a in args) psi.ArgumentList.Add(a);
        return Process.Start(psi)!;
    }

    private static async Task<(int Code, string Out, string Err)> RunAsync(params string[] args)
    {
        using var p = Start(args);
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        try
        {
            await p.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
        }
        finally
        {
            if (!p.HasExited) p.Kill(); // a daemon that should have exited must not outlive the test
        }
        return (p.ExitCode, await stdout, await stderr);
    }

    [Fact]
    public async Task Help_describes_every_option_and_exits_zero()
    {
        var (code, output, _) = await RunAsync("--help");
        Assert.Equal(0, code);
        foreach (var option in new[] { "--config", "--node", "--workload", "--state-dir", "--ca-cert", "--readiness", "--metrics", "--admin", "--drain-timeout", "--hbone-port", "--socks5-port", "--log-level", "--log-format" })
            Assert.Contains(option, output);
    }

    [Theory]
    [InlineData("--bogus", "unknown option '--bogus'")]
    [InlineData("--hbone-port 99999", "--hbone-port '99999' is not a port number")]
    [InlineData("--workload nons", "--workload 'nons' must be NAMESPACE/NAME")]
    [InlineData("--ca-cert x.pem", "--ca-cert and --ca-key must be given together")]
    [InlineData("--config", "--config needs a value")]
    [InlineData("--metrics 10.0.0.1", "--metrics '10.0.0.1' is not ADDRESS:PORT or off")]
    [InlineData("--drain-timeout soon", "--drain-timeout 'soon' is not a number of seconds")]
    public async Task Bad_command_lines_exit_2_with_a_message_naming_the_option(string args, string message)
    {
        var (code, _, err) = await RunAsync(args.Split(' '));
        Assert.Equal(2, code);
        Assert.Contains(message, err);
    }

    [Fact]
    public async Task Invalid_config_exits_2_naming_file_line_and_field()
    {
        var path = Path.Combine(_dir, "bad.yaml");
        // An invalid trustDomain is a file-level error (every identity depends on it): nothing starts, and every
        // problem in the file is reported, object errors included.
        File.WriteAllText(path, "trustDomain: bad domain!\nworkloads:\n  - name: a\n    namespace: default\n    addresses: [10.0.0.300]\n");
        var (code, output, _) = await RunAsync("--config", path, "--state-dir", _dir, "--readiness", "off", "--metrics", "off", "--admin", "off", "--log-format", "text");
        Assert.Equal(2, code);
        Assert.Contains("bad.yaml:1:", output);
        Assert.Contains("bad.yaml:5:", output);
        Assert.Contains("workloads[0].addresses[0]", output);
        Assert.Contains("10.0.0.300", output);
    }

    [Fact]
    public async Task Sigterm_while_waiting_for_the_Kubernetes_API_stops_at_once()
    {
        // Nothing listens on port 1: the daemon would retry its lists for a minute before giving up.
        var kubeconfig = Path.Combine(_dir, "kubeconfig");
        File.WriteAllText(kubeconfig, """
            apiVersion: v1
            kind: Config
            clusters: [{name: c, cluster: {server: "http://127.0.0.1:1"}}]
            contexts: [{name: c, context: {cluster: c, user: u}}]
            current-context: c
            users: [{name: u, user: {token: t}}]
            """);
        using var daemon = DaemonProcess.Start("--kubeconfig", kubeconfig, "--node", "n1", "--state-dir", _dir, "--metrics", "off", "--admin", "off",
            "--readiness", "off", "--log-format", "text");
        await daemon.WaitForOutputAsync("list failed");
        var clock = System.Diagnostics.Stopwatch.StartNew();
        daemon.Signal("TERM");
        Assert.Equal(0, await daemon.WaitForExitAsync(TimeSpan.FromSeconds(10)));
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"took {clock.Elapsed.TotalSeconds:F1} s to stop");
        Assert.Contains("stopped while starting", daemon.Output);
    }

    [Fact]
    public async Task Runs_on_a_config_file_becomes_ready_reloads_and_stops_on_sigterm()
    {
        var a = new TestWorkload("sleep", "local", "sleep");
        var b = new TestWorkload("echo", "local", "echo");
        await using var echo = new EchoServer(b.Address, 8080);
        var config = Path.Combine(_dir, "ambient.yaml");
        File.WriteAllText(config, LocalMesh.Config([a, b]));
        var readiness = new IPEndPoint(TestAddresses.Next(), 15021);
        using var daemon = Start("--config", config, "--state-dir", _dir, "--readiness", readiness.ToString(), "--metrics", "off", "--admin", "off", "--log-format", "json");
        var log = new StringBuilder();
        daemon.OutputDataReceived += (_, e) => { lock (log) log.AppendLine(e.Data); };
        daemon.BeginOutputReadLine();
        try
        {
            await WaitUntilAsync(async () => await ReadyStatusAsync(readiness) == 200, "readiness 200");

            using (var s = await Socks5Client.ConnectAsync(a.Socks5, new IPEndPoint(b.Address, 8080)))
            {
                await s.SendAsync("hi"u8.ToArray(), SocketFlags.None);
                s.Shutdown(SocketShutdown.Send);
                Assert.Equal("hi"u8.ToArray(), await TunnelTests.ReadToEndAsync(s, default));
            }

            // A bad edit is reported and the last good config stays in force.
            File.WriteAllText(config, LocalMesh.Config([a, b]) + "bogusKey: 1\n");
            await WaitUntilAsync(() => Task.FromResult(Snapshot(log).Contains("bogusKey")), "bad edit reported");
            using (var s = await Socks5Client.ConnectAsync(a.Socks5, new IPEndPoint(b.Address, 8080)))
                Assert.True(s.Connected);

            // An edit applies without its one invalid object: the DENY policy for echo refuses new connections,
            // the broken policy beside it is rejected alone and named in the log.
            File.WriteAllText(config, LocalMesh.Config([a, b], extra: """
                authorizationPolicies:
                  - metadata: {name: deny-sleep, namespace: default}
                    spec:
                      selector: {matchLabels: {app: echo}}
                      action: DENY
                      rules: [{from: [{source: {principals: ["cluster.local/ns/default/sa/sleep"]}}]}]
                  - metadata: {name: broken, namespace: default}
                    spec:
                      rules: [{from: [{source: {ipBlocks: ["10.0.0.0/40"]}}]}]

                """));
            await WaitUntilAsync(async () =>
            {
                try { using var s = await Socks5Client.ConnectAsync(a.Socks5, new IPEndPoint(b.Address, 8080)); return false; }
                catch (Socks5RefusedException) { return true; }
            }, "DENY policy applied");
            Assert.Contains("denied by DENY policy default/deny-sleep", Snapshot(log));
            Assert.Contains("authorizationPolicies[1].spec.rules[0].from[0].source.ipBlocks[0]", Snapshot(log));

            Kill(daemon, "TERM");
            await daemon.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10));
            Assert.Equal(0, daemon.ExitCode);
        }
        finally
        {
            if (!daemon.HasExited) daemon.Kill();
        }
    }

    private static string Snapshot(StringBuilder sb) { lock (sb) return sb.ToString(); }

    private static void Kill(Process p, string signal) => Process.Start("kill", $"-{signal} {p.Id}")!.WaitForExit();

    private static async Task WaitUntilAsync(Func<Task<bool>> condition, string what)
    {
        var until = DateTime.UtcNow.AddSeconds(20);
        while (DateTime.UtcNow < until)
        {
            if (await condition()) return;
            await Task.Delay(100);
        }
        Assert.Fail($"timed out waiting for {what}");
    }

    private static async Task<int> ReadyStatusAsync(IPEndPoint endpoint)
    {
        try
        {
            using var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            await s.ConnectAsync(endpoint);
            await s.SendAsync("GET /healthz/ready HTTP/1.1\r\nHost: x\r\n\r\n"u8.ToArray(), SocketFlags.None);
            var text = Encoding.ASCII.GetString(await TunnelTests.ReadToEndAsync(s, default));
            return int.Parse(text.Split(' ')[1]);
        }
        catch (SocketException) { return 0; }
    }
}

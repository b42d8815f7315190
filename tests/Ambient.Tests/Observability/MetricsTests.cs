using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Ambient.Tests.EndToEnd;
using Ambient.Tests.Support;

namespace Ambient.Tests.Observability;

/// <summary>
/// The daemon binary's <c>/metrics</c> as an operator sees it: Istio's names and labels, exact counts after known
/// traffic, DENY flags for a denied connection, output that <c>promtool</c> accepts, scraped by a real Prometheus.
/// </summary>
public sealed class MetricsTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("ambient-metrics-").FullName;

    public void Dispose()
    {
        try { Directory.Delete(_dir, true); } catch (IOException) { }
    }

    private static readonly TestWorkload Sleep = new("sleep", "local", "sleep");
    private static readonly TestWorkload Echo = new("echo", "local", "echo");
    private static readonly TestWorkload Intruder = new("intruder", "local", "intruder");

    private (DaemonProcess Daemon, IPEndPoint Metrics, IPAddress Vip) StartDaemon()
    {
        var vip = TestAddresses.Next();
        var config = Path.Combine(_dir, "ambient.yaml");
        File.WriteAllText(config, LocalMesh.Config([Sleep, Echo, Intruder], ("echo", vip, 80, 8080, ["echo"]), extra: """
            authorizationPolicies:
              - metadata: {name: deny-intruder, namespace: default}
                spec:
                  selector: {matchLabels: {app: echo}}
                  action: DENY
                  rules: [{from: [{source: {principals: ["cluster.local/ns/default/sa/intruder"]}}]}]

            """));
        var metrics = new IPEndPoint(TestAddresses.Next(), 15020);
        var daemon = DaemonProcess.Start("--config", config, "--state-dir", _dir, "--readiness", "off",
            "--metrics", metrics.ToString(), "--admin", "off", "--log-format", "json");
        return (daemon, metrics, vip);
    }

    private static async Task<string> ScrapeAsync(IPEndPoint metrics)
    {
        using var http = new HttpClient();
        return await http.GetStringAsync($"http://{metrics}/metrics");
    }

    [Fact]
    public async Task Counters_and_labels_match_known_traffic_exactly_and_promtool_accepts_them()
    {
        var (daemon, metrics, vip) = StartDaemon();
        using var _ = daemon;
        await using var echo = new EchoServer(Echo.Address, 8080);
        await daemon.WaitForOutputAsync("ready: serving");

        // 10,000 bytes each way through the service, then a connection the destination's policy denies.
        var payload = new byte[10_000];
        Random.Shared.NextBytes(payload);
        using (var s = await Socks5Client.ConnectAsync(Sleep.Socks5, new IPEndPoint(vip, 80)))
        {
            await s.SendAsync(payload, SocketFlags.None);
            s.Shutdown(SocketShutdown.Send);
            Assert.Equal(payload, await TunnelTests.ReadToEndAsync(s, default));
        }
        await Assert.ThrowsAsync<Socks5RefusedException>(() => Socks5Client.ConnectAsync(Intruder.Socks5, new IPEndPoint(Echo.Address, 8080)));

        // Both sides count a connection when it has ended: wait for the four closes (2 carried, 2 denied).
        List<PrometheusSample> samples = [];
        var until = DateTime.UtcNow.AddSeconds(15);
        while (DateTime.UtcNow < until)
        {
            samples = PrometheusText.Parse(await ScrapeAsync(metrics));
            if (PrometheusText.Sum(samples, "istio_tcp_connections_closed_total") >= 4) break;
            await Task.Delay(100);
        }

        (string, string)[] carried =
        [
            ("source_workload", "sleep"), ("source_workload_namespace", "default"), ("source_principal", Sleep.Identity),
            ("source_app", "sleep"), ("source_canonical_service", "sleep"),
            ("destination_workload", "echo"), ("destination_workload_namespace", "default"), ("destination_principal", Echo.Identity),
            ("destination_app", "echo"), ("destination_service", "echo.default.svc.cluster.local"), ("destination_service_name", "echo"),
            ("request_protocol", "tcp"), ("response_flags", "-"), ("connection_security_policy", "mutual_tls"),
        ];
        var all = string.Join("\n", samples.Where(x => x.Name.StartsWith("istio_tcp_connections_opened")).Select(x => string.Join(",", x.Labels.Select(kv => $"{kv.Key}={kv.Value}")) + " " + x.Value));
        foreach (var reporter in new[] { "source", "destination" })
        {
            (string, string)[] labels = [("reporter", reporter), .. carried];
            Assert.True(PrometheusText.Sum(samples, "istio_tcp_connections_opened_total", labels) == 1, $"no {reporter} series with the expected labels:\n{all}");
            Assert.Equal(1, PrometheusText.Sum(samples, "istio_tcp_connections_opened_total", labels));
            Assert.Equal(1, PrometheusText.Sum(samples, "istio_tcp_connections_closed_total", labels));
            Assert.Equal(10_000, PrometheusText.Sum(samples, "istio_tcp_received_bytes_total", labels));
            Assert.Equal(10_000, PrometheusText.Sum(samples, "istio_tcp_sent_bytes_total", labels));
            Assert.Equal(0, PrometheusText.Sum(samples, "istio_tcp_connections_failed_total", labels));

            (string, string)[] denied = [("reporter", reporter), ("source_workload", "intruder"), ("source_principal", Intruder.Identity),
                ("destination_workload", "echo"), ("response_flags", "DENY")];
            Assert.Equal(1, PrometheusText.Sum(samples, "istio_tcp_connections_failed_total", denied));
            Assert.Equal(1, PrometheusText.Sum(samples, "istio_tcp_connections_closed_total", denied));
            Assert.Equal(0, PrometheusText.Sum(samples, "istio_tcp_received_bytes_total", denied));
        }

        // The access log names the same service on both sides.
        Assert.Contains("direction=outbound src.addr=", daemon.Output);
        Assert.Equal(2, System.Text.RegularExpressions.Regex.Matches(daemon.Output, "\"Message\":\"connection complete[^\"]*dst.service=echo.default.svc.cluster.local[^\"]*bytes_sent=10000").Count);

        // The daemon's own health.
        Assert.Equal(1, PrometheusText.Sum(samples, "ambient_config_generation", ("source", "file")));
        Assert.Equal(0, PrometheusText.Sum(samples, "ambient_active_connections"));
        var expiry = PrometheusText.Sum(samples, "ambient_certificate_expiry_timestamp_seconds", ("identity", Sleep.Identity));
        Assert.InRange(expiry, DateTimeOffset.UtcNow.AddHours(23).ToUnixTimeSeconds(), DateTimeOffset.UtcNow.AddHours(25).ToUnixTimeSeconds());
        Assert.True(PrometheusText.Sum(samples, "process_cpu_seconds_total") > 0);

        var (code, output) = await RunAsync("promtool", ["check", "metrics"], await ScrapeAsync(metrics));
        Assert.True(code == 0, "promtool check metrics:\n" + output);
    }

    [Fact]
    public async Task A_real_Prometheus_scrapes_the_daemon()
    {
        var (daemon, metrics, vip) = StartDaemon();
        using var _ = daemon;
        await using var echo = new EchoServer(Echo.Address, 8080);
        await daemon.WaitForOutputAsync("ready: serving");
        using (var s = await Socks5Client.ConnectAsync(Sleep.Socks5, new IPEndPoint(vip, 80)))
        {
            await s.SendAsync(new byte[4321], SocketFlags.None);
            s.Shutdown(SocketShutdown.Send);
            Assert.Equal(4321, (await TunnelTests.ReadToEndAsync(s, default)).Length);
        }

        var web = new IPEndPoint(TestAddresses.Next(), 9090);
        File.WriteAllText(Path.Combine(_dir, "prometheus.yml"), $"""
            global: {"{"}scrape_interval: 1s{"}"}
            scrape_configs:
              - job_name: ambient
                static_configs: [{"{"}targets: ["{metrics}"]{"}"}]
            """);
        var psi = new ProcessStartInfo("prometheus") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { $"--config.file={Path.Combine(_dir, "prometheus.yml")}", $"--storage.tsdb.path={Path.Combine(_dir, "tsdb")}", $"--web.listen-address={web}" })
            psi.ArgumentList.Add(a);
        using var prometheus = Process.Start(psi)!;
        var errors = prometheus.StandardError.ReadToEndAsync();
        try
        {
            using var http = new HttpClient();
            var query = Uri.EscapeDataString("""sum(istio_tcp_received_bytes_total{reporter="source",destination_service_name="echo"})""");
            string? last = null;
            var until = DateTime.UtcNow.AddSeconds(40);
            while (DateTime.UtcNow < until)
            {
                try
                {
                    last = await http.GetStringAsync($"http://{web}/api/v1/query?query={query}");
                    if (last.Contains("\"4321\"")) return;
                }
                catch (HttpRequestException) { } // not listening yet
                await Task.Delay(250);
            }
            Assert.Fail($"Prometheus never saw 4321 bytes; last answer: {last}");
        }
        finally
        {
            prometheus.Kill();
            await prometheus.WaitForExitAsync();
            GC.KeepAlive(await errors);
        }
    }

    private static async Task<(int Code, string Output)> RunAsync(string file, string[] args, string stdin)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        await p.StandardInput.WriteAsync(stdin);
        p.StandardInput.Close();
        await p.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
        return (p.ExitCode, await stdout + await stderr);
    }
}

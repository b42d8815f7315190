using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Ambient.Tests.Support;

namespace Ambient.Tests.EndToEnd;

/// <summary>
/// Transparent capture on the outbound port: in a fresh network namespace, an iptables DNAT rule sends a client's
/// connection to a service VIP to the daemon's 15001, which recovers the VIP from SO_ORIGINAL_DST and tunnels it.
/// The client only ever connects to the VIP.
/// </summary>
public sealed class CaptureTests
{
    private static string DaemonPath => Path.Combine(AppContext.BaseDirectory, "ambient-daemon.dll");

    [Fact]
    public async Task Connection_to_a_service_vip_is_captured_and_tunnelled()
    {
        Assert.True(NetNs.Available, "needs root and iproute2 (CI runs as root)");
        using var ns = new NetNs();
        var dir = Directory.CreateTempSubdirectory("ambient-capture-").FullName;
        Process? daemon = null;
        try
        {
            // VIPs need a route for the connect to reach the nat OUTPUT hook at all.
            ns.Exec("ip route add local 10.96.0.0/16 dev lo");
            // What the CNI agent will install per pod, reduced to the one rule this test needs.
            ns.Exec("iptables -t nat -A OUTPUT -p tcp -d 10.96.77.10 --dport 80 -j DNAT --to-destination 127.0.0.10:15001");

            var client = new TestWorkload("sleep", "local", "sleep") { Address = IPAddress.Parse("127.0.0.10") };
            var server = new TestWorkload("echo", "local", "echo") { Address = IPAddress.Parse("127.0.0.20") };
            var config = Path.Combine(dir, "ambient.yaml");
            File.WriteAllText(config, LocalMesh.Config([client, server], ("echo", IPAddress.Parse("10.96.77.10"), 80, 8080, ["echo"])));
            await using var echo = new EchoServer(ns.CreateSocket(new IPEndPoint(server.Address, 8080), listen: true));

            daemon = ns.Start("dotnet", [DaemonPath, "--config", config, "--state-dir", dir, "--readiness", "127.0.0.1:15021", "--log-format", "text"]);
            var log = new StringBuilder();
            daemon.OutputDataReceived += (_, e) => { lock (log) log.AppendLine(e.Data); };
            daemon.BeginOutputReadLine();
            await WaitReadyAsync(ns, log);

            using var socket = ns.CreateSocket(new IPEndPoint(client.Address, 0));
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
            await socket.ConnectAsync(new IPEndPoint(IPAddress.Parse("10.96.77.10"), 80), cts.Token);
            await socket.SendAsync("captured"u8.ToArray(), SocketFlags.None, cts.Token);
            socket.Shutdown(SocketShutdown.Send);
            Assert.Equal("captured"u8.ToArray(), await TunnelTests.ReadToEndAsync(socket, cts.Token));

            string text = "";
            for (int i = 0; i < 50 && !text.Contains("direction=outbound"); i++)
            {
                await Task.Delay(100);
                lock (log) text = log.ToString();
            }
            Assert.Contains("dst.addr=10.96.77.10:80", text);
            Assert.Contains("route=hbone", text);
            Assert.Contains("src.identity=spiffe://cluster.local/ns/default/sa/sleep", text);
        }
        finally
        {
            if (daemon is { HasExited: false })
            {
                daemon.Kill(entireProcessTree: true);
                await daemon.WaitForExitAsync();
            }
            Directory.Delete(dir, true);
        }
    }

    [Fact]
    public async Task Plaintext_from_outside_the_mesh_is_admitted_when_permissive_and_refused_when_strict()
    {
        Assert.True(NetNs.Available, "needs root and iproute2 (CI runs as root)");
        using var ns = new NetNs();
        var dir = Directory.CreateTempSubdirectory("ambient-plaintext-").FullName;
        Process? daemon = null;
        try
        {
            // A client outside the mesh (127.0.0.30) dials the echo workload's app port; the rule sends it to 15006.
            ns.Exec("iptables -t nat -A OUTPUT -p tcp -s 127.0.0.30 -d 127.0.0.20 --dport 8080 -j DNAT --to-destination 127.0.0.20:15006");
            var server = new TestWorkload("echo", "local", "echo") { Address = IPAddress.Parse("127.0.0.20") };
            string Config(string mode) => LocalMesh.Config([server], extra: $"peerAuthentications:\n  - metadata: {{name: default, namespace: istio-system}}\n    spec: {{mtls: {{mode: {mode}}}}}\n");
            var config = Path.Combine(dir, "ambient.yaml");
            File.WriteAllText(config, Config("PERMISSIVE"));
            await using var echo = new EchoServer(ns.CreateSocket(new IPEndPoint(server.Address, 8080), listen: true));
            daemon = ns.Start("dotnet", [DaemonPath, "--config", config, "--state-dir", dir, "--readiness", "127.0.0.1:15021", "--log-format", "text"]);
            var log = new StringBuilder();
            daemon.OutputDataReceived += (_, e) => { lock (log) log.AppendLine(e.Data); };
            daemon.BeginOutputReadLine();
            await WaitReadyAsync(ns, log);

            async Task<byte[]> ExchangeAsync()
            {
                using var socket = ns.CreateSocket(new IPEndPoint(IPAddress.Parse("127.0.0.30"), 0));
                using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
                await socket.ConnectAsync(new IPEndPoint(server.Address, 8080), cts.Token);
                await socket.SendAsync("plain"u8.ToArray(), SocketFlags.None, cts.Token);
                socket.Shutdown(SocketShutdown.Send);
                try { return await TunnelTests.ReadToEndAsync(socket, cts.Token); }
                catch (SocketException) { return []; }
            }

            Assert.Equal("plain"u8.ToArray(), await ExchangeAsync());
            File.WriteAllText(config, Config("STRICT"));
            byte[] got = "plain"u8.ToArray();
            for (int i = 0; i < 50 && got.Length > 0; i++)
            {
                await Task.Delay(100);
                got = await ExchangeAsync();
            }
            Assert.Empty(got);
            // The connection that saw STRICT arrive may have been open then (closed by the policy re-check);
            // a new one must be refused at the door.
            Assert.Empty(await ExchangeAsync());
            string text = "";
            for (int i = 0; i < 50 && !text.Contains("plaintext refused"); i++)
            {
                await Task.Delay(100);
                lock (log) text = log.ToString();
            }
            Assert.Contains("plaintext refused: PeerAuthentication is STRICT", text);
        }
        finally
        {
            if (daemon is { HasExited: false })
            {
                daemon.Kill(entireProcessTree: true);
                await daemon.WaitForExitAsync();
            }
            Directory.Delete(dir, true);
        }
    }

    private static async Task WaitReadyAsync(NetNs ns, StringBuilder log)
    {
        for (int i = 0; i < 200; i++)
        {
            try
            {
                using var s = ns.CreateSocket();
                await s.ConnectAsync(new IPEndPoint(IPAddress.Loopback, 15021));
                await s.SendAsync("GET /healthz/ready HTTP/1.1\r\n\r\n"u8.ToArray(), SocketFlags.None);
                if (Encoding.ASCII.GetString(await TunnelTests.ReadToEndAsync(s, default)).StartsWith("HTTP/1.1 200"))
                    return;
            }
            catch (SocketException) { }
            await Task.Delay(100);
        }
        lock (log) Assert.Fail("daemon did not become ready:\n" + log);
    }
}

using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using Ambient.Tests.EndToEnd;
using Ambient.Tests.Support;

namespace Ambient.Tests.Observability;

/// <summary>
/// SIGTERM drains the daemon binary: readiness goes false first, new connections are refused, connections in
/// flight finish with every byte, and the process exits when they are done or at the deadline.
/// </summary>
public sealed class DrainTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("ambient-drain-").FullName;
    private readonly TestWorkload _sleep = new("sleep", "local", "sleep");
    private readonly TestWorkload _echo = new("echo", "local", "echo");

    public void Dispose()
    {
        try { Directory.Delete(_dir, true); } catch (IOException) { }
    }

    private DaemonProcess Start(string drainSeconds, IPEndPoint readiness)
    {
        var config = Path.Combine(_dir, "ambient.yaml");
        File.WriteAllText(config, LocalMesh.Config([_sleep, _echo]));
        return DaemonProcess.Start("--config", config, "--state-dir", _dir, "--readiness", readiness.ToString(), "--metrics", "off",
            "--admin", "off", "--drain-timeout", drainSeconds, "--log-format", "text");
    }

    private static async Task<int> ReadinessAsync(IPEndPoint readiness)
    {
        using var http = new HttpClient();
        try { return (int)(await http.GetAsync($"http://{readiness}/healthz/ready")).StatusCode; }
        catch (HttpRequestException) { return 0; }
    }

    [Fact]
    public async Task A_20_second_transfer_in_flight_at_SIGTERM_completes_with_every_byte()
    {
        var readiness = new IPEndPoint(TestAddresses.Next(), 15021);
        using var daemon = Start("30", readiness);
        await using var echo = new EchoServer(_echo.Address, 8080);
        await daemon.WaitForOutputAsync("ready: serving");

        using var tunnel = await Socks5Client.ConnectAsync(_sleep.Socks5, new IPEndPoint(_echo.Address, 8080));
        var sentHash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        long sentBytes = 0;
        var clock = Stopwatch.StartNew();
        var sender = Task.Run(async () =>
        {
            var chunk = new byte[8192];
            while (clock.Elapsed < TimeSpan.FromSeconds(20))
            {
                Random.Shared.NextBytes(chunk);
                sentHash.AppendData(chunk);
                await tunnel.SendAsync(chunk, SocketFlags.None);
                sentBytes += chunk.Length;
                await Task.Delay(20);
            }
            tunnel.Shutdown(SocketShutdown.Send);
        });
        var received = TunnelTests.ReadToEndAsync(tunnel, default);

        await Task.Delay(2000);
        daemon.Signal("TERM");
        await daemon.WaitForOutputAsync("draining");

        // Readiness answers 503 (or the listener is gone), and new connections are refused while the old one runs.
        Assert.NotEqual(200, await ReadinessAsync(readiness));
        var refused = await Assert.ThrowsAnyAsync<SocketException>(() => Socks5Client.ConnectAsync(_sleep.Socks5, new IPEndPoint(_echo.Address, 8080)));
        Assert.Equal(SocketError.ConnectionRefused, refused.SocketErrorCode);
        Assert.False(daemon.Process.HasExited);

        await sender;
        var echoed = await received.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.True(clock.Elapsed >= TimeSpan.FromSeconds(20));
        Assert.Equal(sentBytes, echoed.Length);
        Assert.Equal(sentHash.GetHashAndReset(), SHA256.HashData(echoed));

        // Nothing left to wait for: the daemon exits at once, long before its 30 s deadline.
        Assert.Equal(0, await daemon.WaitForExitAsync(TimeSpan.FromSeconds(5)));
        Assert.Contains("drained in", daemon.Output);
    }

    [Fact]
    public async Task Connections_still_open_at_the_deadline_are_cut_and_the_process_exits()
    {
        var readiness = new IPEndPoint(TestAddresses.Next(), 15021);
        using var daemon = Start("1.5", readiness);
        await using var echo = new EchoServer(_echo.Address, 8080);
        await daemon.WaitForOutputAsync("ready: serving");
        using var idle = await Socks5Client.ConnectAsync(_sleep.Socks5, new IPEndPoint(_echo.Address, 8080));

        var clock = Stopwatch.StartNew();
        daemon.Signal("TERM");
        Assert.Equal(0, await daemon.WaitForExitAsync(TimeSpan.FromSeconds(10)));
        Assert.InRange(clock.Elapsed, TimeSpan.FromSeconds(1.4), TimeSpan.FromSeconds(6));
        Assert.Contains("drain deadline of 1.5 s reached: cutting", daemon.Output);
        // The client sees its connection end rather than hang.
        var buffer = new byte[16];
        try { Assert.Equal(0, await idle.ReceiveAsync(buffer, SocketFlags.None).WaitAsync(TimeSpan.FromSeconds(5))); }
        catch (SocketException) { }
    }
}

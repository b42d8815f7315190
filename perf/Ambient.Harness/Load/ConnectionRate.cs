using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Ambient.Harness.Load;

/// <summary>
/// New connections per second: several loops, each connect → one request (Connection: close) → response → close,
/// as fast as the path allows. Through a proxy pair every connection is new work at both proxies (for HAProxy-TLS
/// a TLS handshake; for Ambient a new HBONE stream on a pooled tunnel).
/// </summary>
public static class ConnectionRate
{
    /// <param name="All">Connections completed including the warm-up's (what the proxies' CPU time paid for).</param>
    public sealed record Result(double PerSecond, long Completed, long All, long Errors);

    public static async Task<Result> RunAsync(PodSockets sockets, IPEndPoint target, int concurrency, TimeSpan warmUp, TimeSpan duration, CancellationToken cancel)
    {
        long measureFrom = Stopwatch.GetTimestamp() + (long)(warmUp.TotalSeconds * Stopwatch.Frequency);
        long end = measureFrom + (long)(duration.TotalSeconds * Stopwatch.Frequency);
        var loops = Enumerable.Range(0, concurrency).Select(_ => Task.Run(() => LoopAsync(sockets, target, measureFrom, end, cancel))).ToArray();
        var results = await Task.WhenAll(loops);
        long completed = results.Sum(r => r.Completed);
        return new Result(completed / duration.TotalSeconds, completed, results.Sum(r => r.All), results.Sum(r => r.Errors));
    }

    private static async Task<(long Completed, long All, long Errors)> LoopAsync(PodSockets sockets, IPEndPoint target, long measureFrom, long end, CancellationToken cancel)
    {
        long completed = 0, all = 0, errors = 0;
        while (Stopwatch.GetTimestamp() < end)
        {
            cancel.ThrowIfCancellationRequested();
            using var socket = sockets.Take();
            try
            {
                await socket.ConnectAsync(target, cancel);
                await socket.SendAsync(Http1.CloseRequest, SocketFlags.None, cancel);
                int status = await new ResponseReader(socket).ReadAsync(cancel);
                long now = Stopwatch.GetTimestamp();
                if (status != 200) { errors++; continue; }
                all++;
                if (now >= measureFrom && now <= end) completed++;
            }
            catch (Exception e) when (e is SocketException or IOException)
            {
                errors++;
                await Task.Delay(10, cancel); // a refused or reset connection returns at once: do not spin on it
            }
        }
        return (completed, all, errors);
    }
}

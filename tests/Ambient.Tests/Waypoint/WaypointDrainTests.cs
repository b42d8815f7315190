using System.Diagnostics;
using System.Net;

namespace Ambient.Tests.Waypoint;

/// <summary>
/// SIGTERM drains the waypoint process on the test bed: readiness goes false, a request in flight finishes with its
/// answer, and the process exits 0 once it is done (well before the drain deadline).
/// </summary>
[Collection("waypoint-bed")]
public sealed class WaypointDrainTests(WaypointBed bed) : IAsyncLifetime
{
    public Task InitializeAsync() => bed.ApplyAsync("");

    // Whatever happened, the next test finds a serving waypoint.
    public async Task DisposeAsync()
    {
        if (bed.Waypoint.HasExited) await bed.StartWaypointAsync();
    }

    [Fact]
    public async Task A_request_in_flight_at_SIGTERM_gets_its_answer_and_the_waypoint_exits_when_it_is_done()
    {
        using var client = bed.Client(bed.Sleep);
        Assert.Equal(200, await bed.ReadinessAsync());
        var clock = Stopwatch.StartNew();
        var slow = client.GetAsync("/slow"); // the application answers after 2 s
        while (bed.AppV1.Concurrent + bed.AppV2.Concurrent == 0 && clock.Elapsed < TimeSpan.FromSeconds(5)) await Task.Delay(10);
        Assert.True(bed.AppV1.Concurrent + bed.AppV2.Concurrent > 0, "the slow request never reached an application");

        using (var kill = Process.Start("kill", ["-TERM", bed.Waypoint.Id.ToString()])) await kill.WaitForExitAsync();
        Assert.True(await bed.Waypoint.WaitForOutputAsync("stopping: draining", TimeSpan.FromSeconds(5)), bed.Waypoint.Output);
        Assert.NotEqual(200, await bed.ReadinessAsync());

        using var response = await slow;
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Matches("^v[12]$", await response.Content.ReadAsStringAsync());

        using var exit = new CancellationTokenSource(TimeSpan.FromSeconds(8));
        await bed.Waypoint.WaitForExitAsync(exit.Token);
        Assert.Equal(0, bed.Waypoint.Process.ExitCode);
        Assert.Contains("drained in", bed.Waypoint.Output);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(8), $"exited after {clock.Elapsed}: it waited for the 10 s deadline, not for the request");
    }
}

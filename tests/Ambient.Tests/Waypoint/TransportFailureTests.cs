using System.Net;
using System.Net.Http;
using Ambient.Hbone;
using Yarp.ReverseProxy.Forwarder;

namespace Ambient.Tests.Waypoint;

/// <summary>Refusals, upstream failures, client aborts and the plain listener next to the HBONE one.</summary>
public sealed class TransportFailureTests(TransportStack stack) : IClassFixture<TransportStack>
{
    private static CancellationToken Timeout(int seconds = 30) => new CancellationTokenSource(TimeSpan.FromSeconds(seconds)).Token;

    [Fact]
    public async Task Admission_hook_refuses_a_tunnel_with_its_status()
    {
        var request = new HboneConnectRequest(TransportStack.ClientId.ToString(), [TransportStack.WaypointId.ToString()], stack.WaypointHbone,
            new IPEndPoint(TransportStack.Vip.Address, TransportStack.RefusedPort));
        var e = await Assert.ThrowsAsync<HboneConnectException>(async () => await stack.ClientHbone.ConnectAsync(request, Timeout()));
        Assert.Equal(401, e.Status);
    }

    [Fact]
    public async Task Refused_upstream_connect_is_a_502()
    {
        using var client = stack.CreateClient(HttpVersion.Version11);
        using var response = await client.Http.GetAsync("/down", Timeout());
        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        Assert.Contains(ForwarderError.Request, stack.ForwardErrors);
        Assert.Contains(stack.Destination.Streams, s => s.Authority == "127.0.0.1:1" && s.Status == 503);
    }

    [Fact]
    public async Task Endpoint_that_cannot_prove_the_expected_identity_gets_no_request()
    {
        using var client = stack.CreateClient(HttpVersion.Version11);
        using var response = await client.Http.GetAsync("/impostor", Timeout());
        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
    }

    [Fact]
    public async Task Client_going_away_aborts_the_upstream_request()
    {
        var (started, aborted) = stack.Upstream.Hang("h1");
        using var client = stack.CreateClient(HttpVersion.Version11);
        using var cancel = new CancellationTokenSource();
        var request = client.Http.GetAsync("/hang?id=h1", HttpCompletionOption.ResponseContentRead, cancel.Token);
        await started.Task.WaitAsync(Timeout());
        cancel.Cancel(); // the client's HTTP connection (our tunnel) is closed mid-response
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => request);
        // Kestrel sees the tunnel end, aborts the request, YARP cancels the upstream request, the application sees it.
        await aborted.Task.WaitAsync(Timeout(10));
    }

    [Fact]
    public async Task Client_going_away_aborts_the_upstream_request_over_http2()
    {
        var (started, aborted) = stack.Upstream.Hang("h2");
        using var client = stack.CreateClient(HttpVersion.Version20);
        using var cancel = new CancellationTokenSource();
        var request = client.Http.GetAsync("/hang?id=h2", HttpCompletionOption.ResponseContentRead, cancel.Token);
        await started.Task.WaitAsync(Timeout());
        cancel.Cancel(); // RST_STREAM inside the tunnel
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => request);
        await aborted.Task.WaitAsync(Timeout(10));
    }

    [Fact]
    public async Task Plain_socket_endpoint_serves_next_to_the_hbone_one()
    {
        using var http = new HttpClient();
        Assert.Equal("plain", await http.GetStringAsync($"http://{stack.WaypointPlain}/healthz", Timeout()));
        using var client = stack.CreateClient(HttpVersion.Version11);
        Assert.Equal("tunnel", await client.Http.GetStringAsync("/healthz", Timeout()));
    }
}

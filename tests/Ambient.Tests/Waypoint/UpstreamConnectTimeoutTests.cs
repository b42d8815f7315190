using System.Diagnostics;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using Ambient.Hbone;
using Ambient.Tests.Support;
using Ambient.Waypoint.Forwarding;
using Ambient.Waypoint.Resilience;

namespace Ambient.Tests.Waypoint;

/// <summary>DestinationRule <c>tcp.connectTimeout</c> on the waypoint's tunnels to a service's pods.</summary>
public sealed class UpstreamConnectTimeoutTests
{
    private const string WaypointIdentity = "spiffe://cluster.local/ns/default/sa/waypoint";

    [Fact]
    public async Task A_pod_that_accepts_but_never_answers_fails_after_the_services_connect_timeout()
    {
        var (silent, endpoint) = SilentPod();
        using var _ = silent;
        await using var hbone = NewHboneClient();
        var limiter = new ConnectionLimiter { ConnectTimeout = TimeSpan.FromMilliseconds(300) };
        using var client = HboneHttpClient.Create(hbone, WaypointIdentity, limiter: limiter);

        var clock = Stopwatch.StartNew();
        var e = await Assert.ThrowsAsync<HttpRequestException>(() => client.SendAsync(Request(endpoint), CancellationToken.None));
        Assert.InRange(clock.ElapsedMilliseconds, 250, 5_000);
        var cause = Assert.IsType<HboneConnectException>(e.InnerException);
        Assert.Contains("timed out after 300 ms (connectTimeout)", cause.Message);
        Assert.Equal(0, limiter.OpenConnections); // the connection permit is given back
    }

    [Fact]
    public async Task Without_a_connect_timeout_the_same_connect_is_still_waiting_a_second_later()
    {
        var (silent, endpoint) = SilentPod();
        using var _ = silent;
        await using var hbone = NewHboneClient();
        using var client = HboneHttpClient.Create(hbone, WaypointIdentity, limiter: new ConnectionLimiter());
        using var cancel = new CancellationTokenSource();

        var send = client.SendAsync(Request(endpoint), cancel.Token);
        await Task.Delay(1_000);
        Assert.False(send.IsCompleted, "the connect ended without a timeout of the service's own");
        cancel.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => send);
    }

    /// <summary>A listener whose kernel completes TCP handshakes while nothing ever answers TLS: a hung pod.</summary>
    private static (Socket Listener, UpstreamEndpoint Endpoint) SilentPod()
    {
        var address = TestAddresses.Next();
        var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(address, 0));
        listener.Listen(16);
        var endpoint = new UpstreamEndpoint(new IPEndPoint(address, 8080), "spiffe://cluster.local/ns/default/sa/echo", (IPEndPoint)listener.LocalEndPoint!);
        return (listener, endpoint);
    }

    private static HboneClient NewHboneClient() => new(new HboneClientOptions(), (_, _) => ValueTask.FromResult(new SslClientAuthenticationOptions
    {
        TargetHost = "echo",
        ApplicationProtocols = [SslApplicationProtocol.Http2],
        RemoteCertificateValidationCallback = static (_, _, _, _) => true, // never reached: the peer stays silent
    }));

    private static HttpRequestMessage Request(UpstreamEndpoint endpoint)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, endpoint.DestinationPrefix + "/");
        request.Options.Set(UpstreamEndpoint.OptionKey, endpoint);
        return request;
    }
}

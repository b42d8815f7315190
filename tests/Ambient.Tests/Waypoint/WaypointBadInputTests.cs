using System.Buffers.Binary;
using System.Net;
using System.Text;

namespace Ambient.Tests.Waypoint;

/// <summary>
/// What the waypoint does with bad input on the test bed: an invalid route is left out alone (named, with its field)
/// while the rest applies; malformed HTTP/1.1, oversized headers and HTTP/2 abuse from a client pod get the standard
/// error, and the waypoint keeps serving.
/// </summary>
[Collection("waypoint-bed")]
public sealed class WaypointBadInputTests(WaypointBed bed) : IAsyncLifetime
{
    private static readonly string Yaml = """
        httpRoutes:
          - metadata: {name: testers, namespace: default}
            spec:
              parentRefs: [{group: "", kind: Service, name: reviews, port: 80}]
              rules:
                - matches: [{headers: [{name: x-user, value: tester}]}]
                  backendRefs: [{name: reviews-v2, port: 80}]
                - backendRefs: [{name: reviews-v1, port: 80}]
          - metadata: {name: broken, namespace: default}
            spec:
              parentRefs: [{group: "", kind: Service, name: reviews, port: 80}]
              rules:
                - matches: [{path: {type: PathPrefix, value: /broken}}]
                  backendRefs: [{name: reviews-v2, port: 80, weight: -1}]

        """;

    public Task InitializeAsync() => bed.ApplyAsync(Yaml);

    public Task DisposeAsync() => Task.CompletedTask;

    private async Task AssertStillServesAsync()
    {
        Assert.False(bed.Waypoint.HasExited, bed.Waypoint.Output);
        using var client = bed.Client(bed.Sleep);
        Assert.Equal("v1", await client.GetStringAsync("/"));
    }

    [Fact]
    public async Task An_invalid_route_is_rejected_alone_with_its_name_and_field_and_the_valid_one_applies()
    {
        // The error names the object (its list entry, file line and column) and the field; only that object is left out.
        Assert.Contains(": httpRoutes[1].spec.rules[0].backendRefs[0].weight: must be 0..1000000", bed.Waypoint.Output);
        Assert.Contains("rejected 1 invalid object(s) (httpRoutes[1]); applying the rest", bed.Waypoint.Output);
        using var client = bed.Client(bed.Sleep);
        using var tester = new HttpRequestMessage(HttpMethod.Get, "/broken");
        tester.Headers.Add("x-user", "tester");
        using var response = await client.SendAsync(tester);
        Assert.Equal("v2", await response.Content.ReadAsStringAsync()); // the valid route applies, /broken included
        for (int i = 0; i < 20; i++) Assert.Equal("v1", await client.GetStringAsync("/broken")); // the broken one never does
    }

    [Fact]
    public async Task Malformed_HTTP1_gets_400_and_the_waypoint_keeps_serving()
    {
        var answer = WaypointBed.Ascii(await bed.ExchangeRawAsync(bed.Sleep, 80, "GET / HTTP/1.1\r\nHost reviews\r\n\r\n"u8.ToArray()));
        Assert.StartsWith("HTTP/1.1 400 Bad Request", answer);
        answer = WaypointBed.Ascii(await bed.ExchangeRawAsync(bed.Sleep, 80, "GET / HTTP/1.1\r\nHost: reviews\r\nContent-Length: 5\r\nContent-Length: 7\r\n\r\nhello"u8.ToArray()));
        Assert.StartsWith("HTTP/1.1 400 Bad Request", answer);
        Assert.Equal(0, bed.AppV1.Requests + bed.AppV2.Requests);
        await AssertStillServesAsync();
    }

    [Fact]
    public async Task Oversized_request_headers_get_431_and_the_waypoint_keeps_serving()
    {
        var request = $"GET / HTTP/1.1\r\nHost: reviews\r\nx-big: {new string('a', 100_000)}\r\n\r\n";
        var answer = WaypointBed.Ascii(await bed.ExchangeRawAsync(bed.Sleep, 80, Encoding.ASCII.GetBytes(request)));
        Assert.StartsWith("HTTP/1.1 431 Request Header Fields Too Large", answer);
        Assert.Equal(0, bed.AppV1.Requests + bed.AppV2.Requests);
        await AssertStillServesAsync();
    }

    [Fact]
    public async Task HTTP2_abuse_gets_GOAWAY_with_PROTOCOL_ERROR_and_the_waypoint_keeps_serving()
    {
        // Preface, empty SETTINGS, then HEADERS on stream 2: clients may only open odd streams (RFC 9113 §5.1.1).
        var abuse = new MemoryStream();
        abuse.Write("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"u8);
        abuse.Write(Frame(type: 0x4, flags: 0, stream: 0, []));
        abuse.Write(Frame(type: 0x1, flags: 0x5, stream: 2, [0x82, 0x86, 0x84])); // :method GET, :scheme http, :path /
        var frames = Frames(await bed.ExchangeRawAsync(bed.Sleep, 90, abuse.ToArray()));
        var goaway = Assert.Single(frames, f => f.Type == 0x7);
        Assert.Equal(0x1u, BinaryPrimitives.ReadUInt32BigEndian(goaway.Payload.AsSpan(4))); // PROTOCOL_ERROR

        // A frame far over the peer's SETTINGS_MAX_FRAME_SIZE: FRAME_SIZE_ERROR.
        abuse = new MemoryStream();
        abuse.Write("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"u8);
        abuse.Write(Frame(type: 0x4, flags: 0, stream: 0, []));
        abuse.Write(Frame(type: 0x0, flags: 0, stream: 1, new byte[100_000]));
        frames = Frames(await bed.ExchangeRawAsync(bed.Sleep, 90, abuse.ToArray()));
        goaway = Assert.Single(frames, f => f.Type == 0x7);
        Assert.Equal(0x6u, BinaryPrimitives.ReadUInt32BigEndian(goaway.Payload.AsSpan(4))); // FRAME_SIZE_ERROR

        Assert.Equal(0, bed.AppV1.Requests + bed.AppV2.Requests);
        await AssertStillServesAsync();
    }

    private static byte[] Frame(byte type, byte flags, int stream, byte[] payload)
    {
        var frame = new byte[9 + payload.Length];
        frame[0] = (byte)(payload.Length >> 16);
        frame[1] = (byte)(payload.Length >> 8);
        frame[2] = (byte)payload.Length;
        frame[3] = type;
        frame[4] = flags;
        BinaryPrimitives.WriteInt32BigEndian(frame.AsSpan(5), stream);
        payload.CopyTo(frame, 9);
        return frame;
    }

    private static List<(byte Type, byte[] Payload)> Frames(byte[] bytes)
    {
        var frames = new List<(byte, byte[])>();
        for (int at = 0; at + 9 <= bytes.Length;)
        {
            int length = bytes[at] << 16 | bytes[at + 1] << 8 | bytes[at + 2];
            if (at + 9 + length > bytes.Length) break;
            frames.Add((bytes[at + 3], bytes[(at + 9)..(at + 9 + length)]));
            at += 9 + length;
        }
        return frames;
    }
}

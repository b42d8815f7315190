namespace Ambient.Harness.Beds;

/// <summary>The server pod's ports: every configuration carries the three in <see cref="All"/>; the L7 ones <see cref="H2c"/> too.</summary>
public static class Ports
{
    /// <summary>nginx answering every request with <see cref="ServerApps.BodyBytes"/> bytes, HTTP/1.1.</summary>
    public const int Http = 80;

    /// <summary>
    /// The same nginx answer over HTTP/2 with prior knowledge (h2c). A port of its own because nginx 1.22 cannot take
    /// HTTP/1.1 and h2c on one plaintext port (a listener with <c>http2</c> speaks only HTTP/2; preface detection
    /// came with <c>http2 on;</c> in 1.25.1). Used by the full-load HTTP/2 test of the L7 configurations.
    /// </summary>
    public const int H2c = 8081;

    /// <summary>iperf3 server.</summary>
    public const int Iperf = 5201;

    /// <summary>The harness's own accept-and-hold sink for the idle-connection test (it counts what arrived).</summary>
    public const int Sink = 9000;

    public static readonly int[] All = [Http, Iperf, Sink];
}

namespace Ambient.Harness.Beds;

/// <summary>The server pod's ports: every configuration carries exactly these three.</summary>
public static class Ports
{
    /// <summary>nginx answering every request with <see cref="ServerApps.BodyBytes"/> bytes.</summary>
    public const int Http = 80;

    /// <summary>iperf3 server.</summary>
    public const int Iperf = 5201;

    /// <summary>The harness's own accept-and-hold sink for the idle-connection test (it counts what arrived).</summary>
    public const int Sink = 9000;

    public static readonly int[] All = [Http, Iperf, Sink];
}

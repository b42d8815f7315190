using System.Net;
using Ambient.Waypoint;

namespace Ambient.Tests.Waypoint;

/// <summary>The waypoint's command line: every option parsed, and each mistake named.</summary>
public class WaypointOptionsTests
{
    [Fact]
    public void Every_option_is_parsed()
    {
        var o = WaypointOptions.Parse(["--config", "a.yaml", "--workload", "ns/wp", "--waypoint", "ns/gw", "--hbone", "10.0.0.9:15008",
            "--metrics", "off", "--readiness", "127.0.0.1:16021", "--state-dir", "/tmp/s", "--otlp-endpoint", "http://127.0.0.1:4317",
            "--drain-timeout", "3.5", "--log-level", "debug", "--log-format", "text"], out var help);
        Assert.False(help);
        Assert.Equal(("a.yaml", "ns/wp", "ns/gw"), (o.ConfigPath, o.Workload, o.Waypoint));
        Assert.Equal(IPEndPoint.Parse("10.0.0.9:15008"), o.HboneEndpoint);
        Assert.Null(o.MetricsEndpoint);
        Assert.Equal(IPEndPoint.Parse("127.0.0.1:16021"), o.ReadinessEndpoint);
        Assert.Equal(new Uri("http://127.0.0.1:4317"), o.OtlpEndpoint);
        Assert.Equal(TimeSpan.FromSeconds(3.5), o.DrainTimeout);
        Assert.Equal(("debug", "text"), (o.LogLevel, o.LogFormat));
        Assert.True(WaypointOptions.Parse(["--kubeconfig", "k", "--workload", "a/b"], out _).Kubernetes);
    }

    [Theory]
    [InlineData(new string[0], "--workload NAMESPACE/NAME is required")]
    [InlineData(new[] { "--workload", "nons" }, "--workload 'nons' must be NAMESPACE/NAME")]
    [InlineData(new[] { "--workload", "a/b", "--hbone", "off" }, "--hbone cannot be off")]
    [InlineData(new[] { "--workload", "a/b", "--metrics", "15020" }, "--metrics '15020' is not ADDRESS:PORT or off")]
    [InlineData(new[] { "--workload", "a/b", "--otlp-endpoint", "collector:4317" }, "--otlp-endpoint 'collector:4317' is not an http(s) URL")]
    [InlineData(new[] { "--workload", "a/b", "--config", "x", "--kubernetes" }, "--config and --kubernetes are alternatives")]
    [InlineData(new[] { "--workload", "a/b", "--ca-cert", "c.pem" }, "--ca-cert and --ca-key must be given together")]
    [InlineData(new[] { "--workload", "a/b", "--bogus" }, "unknown option '--bogus'")]
    [InlineData(new[] { "--workload" }, "--workload needs a value")]
    public void Mistakes_name_the_option(string[] args, string message) =>
        Assert.Contains(message, Assert.Throws<ArgumentException>(() => WaypointOptions.Parse(args, out _)).Message);

    [Fact]
    public void Help_describes_every_option()
    {
        foreach (var option in new[] { "--config", "--kubernetes", "--kubeconfig", "--workload", "--waypoint", "--hbone", "--metrics", "--readiness",
                     "--state-dir", "--ca-cert", "--ca-key", "--otlp-endpoint", "--drain-timeout", "--log-level", "--log-format" })
            Assert.Contains(option, WaypointOptions.Usage);
    }
}

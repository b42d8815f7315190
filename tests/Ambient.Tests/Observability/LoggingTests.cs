using Ambient.Observability;
using Microsoft.Extensions.Logging;

namespace Ambient.Tests.Observability;

public sealed class LoggingTests
{
    [Fact]
    public void Framework_request_chatter_waits_for_debug_while_our_own_info_lines_and_framework_warnings_pass()
    {
        var levels = new LogLevelSwitch(LogLevel.Information);
        using var logs = Logging.Create(levels, "text");
        var hosting = logs.CreateLogger("Microsoft.AspNetCore.Hosting.Diagnostics");
        var yarp = logs.CreateLogger("Yarp.ReverseProxy.Forwarder.HttpForwarder");
        var ours = logs.CreateLogger("Ambient.Waypoint.RequestLog");

        Assert.False(hosting.IsEnabled(LogLevel.Information));
        Assert.False(yarp.IsEnabled(LogLevel.Information));
        Assert.True(hosting.IsEnabled(LogLevel.Warning));
        Assert.True(ours.IsEnabled(LogLevel.Information));

        levels.Level = LogLevel.Debug; // an operator debugging gets everything, without a restart
        Assert.True(hosting.IsEnabled(LogLevel.Information));
        Assert.True(yarp.IsEnabled(LogLevel.Debug));

        levels.Level = LogLevel.Error;
        Assert.False(hosting.IsEnabled(LogLevel.Warning));
        Assert.False(ours.IsEnabled(LogLevel.Information));
    }
}

using System.Text.Json;
using Ambient.Ctl.Formatters;

namespace Ambient.Tests.Ctl;

/// <summary>Formatters on hand-written admin API answers: the cases a live daemon rarely shows.</summary>
public sealed class FormatterTests
{
    private static JsonElement Parse(string json) => JsonDocument.Parse(json).RootElement;

    [Theory]
    [InlineData(86_399, "23h59m")]
    [InlineData(2 * 86_400 + 3 * 3600 + 5, "2d3h")]
    [InlineData(310, "5m10s")]
    [InlineData(45, "45s")]
    [InlineData(0, "expired")]
    public void Durations_read_like_kubectl_ages(long seconds, string expected) => Assert.Equal(expected, JsonText.Duration(seconds));

    [Fact]
    public void Services_show_target_ports_and_cut_long_endpoint_lists()
    {
        var text = ServicesFormatter.Render(Parse("""
            {"services": [{"name": "web", "namespace": "shop", "vips": ["10.96.0.1"], "ports": {"80": 8080, "443": 0},
              "endpoints": [{"address": "10.0.0.1"}, {"address": "10.0.0.2"}, {"address": "10.0.0.3"}, {"address": "10.0.0.4"}, {"address": "10.0.0.5"}]}]}
            """));
        var row = CtlProcess.TableRows(text)[1];
        Assert.Equal(["shop", "web", "10.96.0.1", "80->8080,443", "10.0.0.1,10.0.0.2,10.0.0.3 +2 more", "<none>"], row);
    }

    [Fact]
    public void Policies_show_scope_and_peer_authentication_modes()
    {
        var text = PoliciesFormatter.Render(Parse("""
            {"authorizationPolicies": [
               {"metadata": {"name": "deny-all", "namespace": "shop"}, "spec": {"action": "DENY", "rules": [{}]}},
               {"metadata": {"name": "at-waypoint", "namespace": "shop"}, "spec": {"targetRefs": [{"kind": "Gateway", "name": "waypoint"}], "action": "ALLOW", "rules": [{}, {}]}}],
             "peerAuthentications": [
               {"metadata": {"name": "strict", "namespace": "shop"}, "spec": {"selector": {"matchLabels": {"app": "db"}}, "mtls": {"mode": "STRICT"}, "portLevelMtls": {"9000": {"mode": "PERMISSIVE"}}}}]}
            """));
        var rows = CtlProcess.TableRows(text);
        Assert.Equal(["AuthorizationPolicy", "shop", "deny-all", "DENY", "namespace shop", "1"], rows[1]);
        Assert.Equal(["AuthorizationPolicy", "shop", "at-waypoint", "ALLOW", "targetRefs Gateway/waypoint", "2"], rows[2]);
        Assert.Equal(["PeerAuthentication", "shop", "strict", "STRICT", "selector app=db", "9000=PERMISSIVE"], rows[3]);
    }

    [Fact]
    public void A_certificate_being_issued_shows_as_pending()
    {
        var rows = CtlProcess.TableRows(CertsFormatter.Render(Parse("""{"certificates": [{"identity": "spiffe://cluster.local/ns/a/sa/b", "state": "pending"}]}""")));
        Assert.Equal(["spiffe://cluster.local/ns/a/sa/b", "<pending>", "-", "-"], rows[1]);
    }

    [Theory]
    [InlineData("ALLOW", 0)]
    [InlineData("PASSTHROUGH", 0)]
    [InlineData("DENY", 3)]
    [InlineData("REFUSED", 3)]
    public void Explain_exits_3_when_the_connection_would_not_be_carried(string result, int exitCode)
    {
        Assert.Equal(exitCode, ExplainFormatter.ExitCode(Parse($$"""{"result": "{{result}}"}""")));
    }

    [Fact]
    public void Missing_fields_are_empty_cells_not_crashes()
    {
        var rows = CtlProcess.TableRows(WorkloadsFormatter.Render(Parse("""{"workloads": [{"name": "bare"}]}""")));
        Assert.Equal(["<none>", "bare", "<none>", "<none>", "<none>", "<none>", "<none>", "<none>"], rows[1]);
    }
}

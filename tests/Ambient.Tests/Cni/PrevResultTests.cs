using System.Text.Json.Nodes;
using Ambient.Cni;

namespace Ambient.Tests.Cni;

public sealed class PrevResultTests
{
    [Theory]
    [MemberData(nameof(CniInputs.EachVersion), MemberType = typeof(CniInputs))]
    public void Pod_ips_are_the_result_addresses_without_prefix(string version)
    {
        Assert.Equal(["10.1.0.5", "fd00:10:1::5"], PrevResult.PodIps(CniInputs.PrevResult(version)));
    }

    [Fact]
    public void Duplicates_are_dropped_bare_addresses_accepted_and_a_result_without_ips_has_none()
    {
        var result = JsonNode.Parse("""{"ips":[{"address":"10.1.0.5/32"},{"address":"10.1.0.5/24"},{"address":"192.168.7.1"}]}""")!.AsObject();
        Assert.Equal(["10.1.0.5", "192.168.7.1"], PrevResult.PodIps(result));
        Assert.Empty(PrevResult.PodIps(new JsonObject { ["cniVersion"] = "1.0.0" }));
        Assert.Empty(PrevResult.PodIps(new JsonObject { ["ips"] = new JsonArray() }));
    }

    [Theory]
    [InlineData("""{"ips":{}}""", "prevResult.ips must be an array")]
    [InlineData("""{"ips":["10.1.0.5/24"]}""", "prevResult.ips[0] must be an object")]
    [InlineData("""{"ips":[{"address":"10.1.0.5/24"},{"gateway":"10.1.0.1"}]}""", "prevResult.ips[1].address is missing")]
    [InlineData("""{"ips":[{"address":"10.1.0.300/24"}]}""", "prevResult.ips[0].address '10.1.0.300/24'")]
    [InlineData("""{"ips":[{"address":"10.1.0.5/x"}]}""", "prevResult.ips[0].address '10.1.0.5/x'")]
    [InlineData("""{"ips":[{"address":"10.1/16"}]}""", "prevResult.ips[0].address '10.1/16'")]
    [InlineData("""{"ips":[{"address":"fe80::1%eth0/64"}]}""", "prevResult.ips[0].address 'fe80::1%eth0/64'")]
    public void A_malformed_result_is_error_7_naming_the_entry(string json, string message)
    {
        var e = Assert.Throws<CniException>(() => PrevResult.PodIps(JsonNode.Parse(json)!.AsObject()));
        Assert.Equal(7, e.Error.Code);
        Assert.Contains(message, e.Error.Msg);
    }

    [Fact]
    public void The_rendered_result_is_the_previous_one_under_the_configuration_version()
    {
        var prev = CniInputs.PrevResult("1.0.0");
        var rendered = JsonNode.Parse(PrevResult.Render(prev, "1.0.0"))!;
        Assert.True(JsonNode.DeepEquals(prev, rendered));

        prev.Remove("cniVersion");
        var versioned = JsonNode.Parse(PrevResult.Render(prev, "1.1.0"))!.AsObject();
        Assert.Equal("1.1.0", versioned["cniVersion"]!.GetValue<string>());
        Assert.Equal("cniVersion", versioned.First().Key);
        versioned.Remove("cniVersion");
        Assert.True(JsonNode.DeepEquals(prev, versioned));
    }

    [Fact]
    public void Rendering_keeps_unknown_fields_and_exact_numbers()
    {
        var prev = JsonNode.Parse("""{"cniVersion":"1.0.0","ips":[],"x-vendor":{"mtu":9001,"ratio":1.50,"big":12345678901234567890}}""")!.AsObject();
        string rendered = PrevResult.Render(prev, "1.0.0");
        Assert.Contains("1.50", rendered);
        Assert.Contains("12345678901234567890", rendered);
        Assert.True(JsonNode.DeepEquals(prev, JsonNode.Parse(rendered)));
    }
}

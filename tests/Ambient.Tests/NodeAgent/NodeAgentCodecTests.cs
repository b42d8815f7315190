using System.Net;
using System.Text;
using Ambient.NodeAgent;

namespace Ambient.Tests.NodeAgent;

public class NodeAgentCodecTests
{
    private static readonly PodInfo Web = new("0b1c-uid", "web-0", "shop", "web", [IPAddress.Parse("10.0.0.5"), IPAddress.Parse("fd00::5")]);

    public static TheoryData<NodeAgentMessage> Messages() =>
    [
        new NodeAgentMessage.Hello(1),
        new NodeAgentMessage.Hello(7),
        new NodeAgentMessage.Add(Web),
        new NodeAgentMessage.Add(Web with { Ips = [] }),
        new NodeAgentMessage.Add(new PodInfo("ü-uid", "naïve-pod", "ns", "sa", [IPAddress.Parse("::ffff:1.2.3.4")])),
        new NodeAgentMessage.Keep(Web),
        new NodeAgentMessage.SnapshotSent(),
        new NodeAgentMessage.Delete("0b1c-uid"),
        NodeAgentMessage.Ack.Ok,
        new NodeAgentMessage.Ack("no such namespace \"x\""),
    ];

    [Theory]
    [MemberData(nameof(Messages))]
    public void RoundTrips(NodeAgentMessage message)
    {
        var bytes = NodeAgentCodec.Encode(message);
        Assert.Equal(message, NodeAgentCodec.Decode(bytes));
    }

    [Fact]
    public void EncodesTheDocumentedWireFormat()
    {
        Assert.Equal("""{"type":"hello","version":1}""", Text(new NodeAgentMessage.Hello(1)));
        Assert.Equal("""{"type":"add","uid":"0b1c-uid","name":"web-0","namespace":"shop","serviceAccount":"web","ips":["10.0.0.5","fd00::5"]}""",
            Text(new NodeAgentMessage.Add(Web)));
        Assert.Equal("""{"type":"keep","uid":"0b1c-uid","name":"web-0","namespace":"shop","serviceAccount":"web","ips":["10.0.0.5","fd00::5"]}""",
            Text(new NodeAgentMessage.Keep(Web)));
        Assert.Equal("""{"type":"snapshotSent"}""", Text(new NodeAgentMessage.SnapshotSent()));
        Assert.Equal("""{"type":"delete","uid":"0b1c-uid"}""", Text(new NodeAgentMessage.Delete("0b1c-uid")));
        Assert.Equal("""{"type":"ack"}""", Text(NodeAgentMessage.Ack.Ok));
        Assert.Equal("""{"type":"ack","error":"boom"}""", Text(new NodeAgentMessage.Ack("boom")));
    }

    [Fact]
    public void DecodesLeniencyThatTheProtocolAllows()
    {
        // Explicit null error, fields in any order, whitespace, unknown fields and fields the type does not use.
        Assert.Equal(NodeAgentMessage.Ack.Ok, Decode("""{ "error" : null, "type" : "ack" }"""));
        Assert.Equal(new NodeAgentMessage.Delete("u"), Decode("""{"uid":"u","name":"ignored","future":{"x":[1,2]},"type":"delete"}"""));
        Assert.Equal(new NodeAgentMessage.Hello(1), Decode("""{"type":"hello","version":1,"agent":"ambient-cni 0.1"}"""));
    }

    [Fact]
    public void AcceptsExactly64KiB()
    {
        var prefix = """{"type":"snapshotSent","pad":""";
        var pad = new string('x', NodeAgentCodec.MaxMessageSize - prefix.Length - 3);
        var bytes = Encoding.UTF8.GetBytes(prefix + "\"" + pad + "\"}");
        Assert.Equal(NodeAgentCodec.MaxMessageSize, bytes.Length);
        Assert.IsType<NodeAgentMessage.SnapshotSent>(NodeAgentCodec.Decode(bytes));
        var tooLong = Encoding.UTF8.GetBytes(prefix + "\"" + pad + "x\"}");
        var e = Assert.Throws<FormatException>(() => NodeAgentCodec.Decode(tooLong));
        Assert.Contains("65537 bytes; the limit is 65536", e.Message);
    }

    [Theory]
    [InlineData("", "is empty")]
    [InlineData("not json", "not valid JSON")]
    [InlineData("""{"type":"hello" """, "not valid JSON")]
    [InlineData("""{"type":"snapshotSent"} {}""", "not valid JSON")]
    [InlineData("""{"type":"snapshotSent",}""", "not valid JSON")]
    [InlineData("""{"type":"snapshotSent" /* comment */}""", "not valid JSON")]
    [InlineData("""{"type":"snapshotSent","x":[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]}""", "not valid JSON")]
    [InlineData("""[{"type":"snapshotSent"}]""", "must be a JSON object, not an array")]
    [InlineData("\"hello\"", "must be a JSON object, not a string")]
    [InlineData("42", "must be a JSON object, not a number")]
    [InlineData("null", "must be a JSON object, not null")]
    [InlineData("{}", "has no \"type\"")]
    [InlineData("""{"type":null}""", "has no \"type\"")]
    [InlineData("""{"type":5}""", "\"type\" must be a string")]
    [InlineData("""{"type":"frobnicate"}""", "unknown node agent message type \"frobnicate\"; expected one of hello, add, keep, snapshotSent, delete, ack")]
    [InlineData("""{"type":"Add"}""", "unknown node agent message type \"Add\"")]
    [InlineData("""{"type":"hello"}""", "\"hello\" message: missing \"version\"")]
    [InlineData("""{"type":"hello","version":"1"}""", "\"version\" must be an integer")]
    [InlineData("""{"type":"hello","version":1.5}""", "\"version\" must be an integer")]
    [InlineData("""{"type":"hello","version":99999999999}""", "\"version\" must be an integer")]
    [InlineData("""{"type":"hello","version":0}""", "\"version\" must be an integer ≥ 1, not 0")]
    [InlineData("""{"type":"hello","version":1,"version":2}""", "field \"version\" appears more than once")]
    [InlineData("""{"type":"delete","uid":"a","type":"hello"}""", "field \"type\" appears more than once")]
    [InlineData("""{"type":"delete","uid":"a\u0000b"}""", "\"uid\" contains a control character")]
    [InlineData("""{"type":"delete","uid":"a\nb"}""", "\"uid\" contains a control character")]
    [InlineData("""{"type":"delete"}""", "\"delete\" message: missing \"uid\"")]
    [InlineData("""{"type":"delete","uid":""}""", "\"delete\" message: \"uid\" is empty")]
    [InlineData("""{"type":"delete","uid":7}""", "\"uid\" must be a string")]
    [InlineData("""{"type":"ack","error":""}""", "\"error\" must be null or a non-empty string")]
    [InlineData("""{"type":"ack","error":{"code":1}}""", "\"error\" must be a string")]
    public void RejectsBadInput(string json, string expected)
    {
        var e = Assert.Throws<FormatException>(() => Decode(json));
        Assert.Contains(expected, e.Message);
    }

    [Theory]
    [InlineData("add", "uid")]
    [InlineData("add", "name")]
    [InlineData("add", "namespace")]
    [InlineData("add", "serviceAccount")]
    [InlineData("add", "ips")]
    [InlineData("keep", "uid")]
    [InlineData("keep", "name")]
    [InlineData("keep", "namespace")]
    [InlineData("keep", "serviceAccount")]
    [InlineData("keep", "ips")]
    public void RejectsPodMessagesWithAMissingField(string type, string field)
    {
        var fields = new Dictionary<string, string>
        {
            ["uid"] = "\"u1\"", ["name"] = "\"n\"", ["namespace"] = "\"ns\"", ["serviceAccount"] = "\"sa\"", ["ips"] = "[\"10.1.2.3\"]",
        };
        var complete = $"{{\"type\":\"{type}\"," + string.Join(",", fields.Select(f => $"\"{f.Key}\":{f.Value}")) + "}";
        Assert.IsAssignableFrom<NodeAgentMessage>(Decode(complete));

        fields.Remove(field);
        var json = $"{{\"type\":\"{type}\"," + string.Join(",", fields.Select(f => $"\"{f.Key}\":{f.Value}")) + "}";
        var e = Assert.Throws<FormatException>(() => Decode(json));
        Assert.Contains($"\"{type}\" message: missing \"{field}\"", e.Message);
    }

    [Theory]
    [InlineData("\"10.0.0\"", "ips[0]\" is not an IP address: \"10.0.0\"")]
    [InlineData("\"010.0.0.1\"", "is not an IP address: \"010.0.0.1\"")]
    [InlineData("\"fe80::1%eth0\"", "is not an IP address")]
    [InlineData("\"pod.example\"", "is not an IP address")]
    [InlineData("null", "ips[0]\" is not an IP address: null")]
    public void RejectsBadAddresses(string ip, string expected)
    {
        var e = Assert.Throws<FormatException>(() =>
            Decode($$"""{"type":"add","uid":"u","name":"n","namespace":"ns","serviceAccount":"sa","ips":[{{ip}}]}"""));
        Assert.Contains(expected, e.Message);

        e = Assert.Throws<FormatException>(() =>
            Decode($$"""{"type":"add","uid":"u","name":"n","namespace":"ns","serviceAccount":"sa","ips":["10.0.0.1",{{ip}}]}"""));
        Assert.Contains("ips[1]", e.Message);
    }

    [Fact]
    public void RejectsAddressesThatAreNotStrings()
    {
        var e = Assert.Throws<FormatException>(() =>
            Decode("""{"type":"add","uid":"u","name":"n","namespace":"ns","serviceAccount":"sa","ips":["10.0.0.1",167772161]}"""));
        Assert.Contains("\"ips[1]\" must be a string", e.Message);
    }

    [Fact]
    public void RejectsIpsThatAreNotAnArray()
    {
        var e = Assert.Throws<FormatException>(() =>
            Decode("""{"type":"add","uid":"u","name":"n","namespace":"ns","serviceAccount":"sa","ips":"10.0.0.1"}"""));
        Assert.Contains("\"ips\" must be an array of strings", e.Message);
    }

    [Fact]
    public void RejectsOverlongNames()
    {
        var name = new string('a', NodeAgentCodec.MaxFieldLength + 1);
        var e = Assert.Throws<FormatException>(() =>
            Decode($$"""{"type":"add","uid":"u","name":"{{name}}","namespace":"ns","serviceAccount":"sa","ips":[]}"""));
        Assert.Contains("\"name\" is 254 characters long; the limit is 253", e.Message);
    }

    [Fact]
    public void RejectsInvalidUtf8()
    {
        var bytes = Encoding.UTF8.GetBytes("""{"type":"delete","uid":"ab"}""");
        bytes[24] = 0xFF;
        var e = Assert.Throws<FormatException>(() => NodeAgentCodec.Decode(bytes));
        Assert.Equal("node agent message is not valid UTF-8", e.Message);
    }

    [Fact]
    public void EncodeRefusesWhatDecodeWouldRefuse()
    {
        Assert.Throws<ArgumentException>(() => NodeAgentCodec.Encode(new NodeAgentMessage.Hello(0)));
        Assert.Throws<ArgumentException>(() => NodeAgentCodec.Encode(new NodeAgentMessage.Delete("")));
        Assert.Throws<ArgumentException>(() => NodeAgentCodec.Encode(new NodeAgentMessage.Add(Web with { Namespace = "" })));
        Assert.Throws<ArgumentException>(() => NodeAgentCodec.Encode(new NodeAgentMessage.Ack("")));
        var many = Enumerable.Range(0, 3000).Select(i => IPAddress.Parse($"fd00:1234:5678:9abc:def0:1234:{i:x}:1")).ToArray();
        var e = Assert.Throws<ArgumentException>(() => NodeAgentCodec.Encode(new NodeAgentMessage.Add(Web with { Ips = many })));
        Assert.Contains("the limit is 65536", e.Message);
    }

    private static string Text(NodeAgentMessage message) => Encoding.UTF8.GetString(NodeAgentCodec.Encode(message));

    private static NodeAgentMessage Decode(string json) => NodeAgentCodec.Decode(Encoding.UTF8.GetBytes(json));
}

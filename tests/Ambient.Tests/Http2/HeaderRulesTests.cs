using Ambient.Http2;
using Ambient.Http2.Frames;

namespace Ambient.Tests.Http2;

public class HeaderRulesTests
{
    private static HeaderField[] H(params string[] kv) => Enumerable.Range(0, kv.Length / 2).Select(i => new HeaderField(kv[2 * i], kv[2 * i + 1])).ToArray();

    [Fact]
    public void Plain_connect_is_valid()
        => HeaderRules.ValidateRequest(1, H(":method", "CONNECT", ":authority", "10.0.0.1:80", "forwarded", "for=\"1.2.3.4:5\""));

    [Fact]
    public void Ordinary_get_is_valid() => HeaderRules.ValidateRequest(1, H(":method", "GET", ":scheme", "https", ":path", "/", ":authority", "x"));

    [Theory]
    [InlineData(":method", "CONNECT", ":scheme", "https", ":authority", "1.2.3.4:80")] // CONNECT with :scheme
    [InlineData(":method", "CONNECT", ":path", "/", ":authority", "1.2.3.4:80")]
    [InlineData(":method", "CONNECT", "x", "y", "z", "w")]                            // no :authority
    [InlineData(":method", "GET", ":path", "/", "x", "y")]                            // no :scheme
    [InlineData(":authority", "a", ":scheme", "s", ":path", "/")]                     // no :method
    [InlineData(":method", "GET", ":method", "GET", ":scheme", "s")]                  // duplicate pseudo
    [InlineData(":method", "CONNECT", ":status", "200", ":authority", "a:1")]         // response pseudo in request
    [InlineData(":method", "CONNECT", "a", "b", ":authority", "a:1")]                 // pseudo after regular
    [InlineData(":method", "CONNECT", ":authority", "a:1", "Upper", "x")]             // upper-case name
    [InlineData(":method", "CONNECT", ":authority", "a:1", "connection", "close")]    // connection-specific
    [InlineData(":method", "CONNECT", ":authority", "a:1", "te", "gzip")]
    [InlineData(":method", "CONNECT", ":authority", "a:1", "x", "bad\r\nvalue")]
    [InlineData(":method", "GET", ":scheme", "s", ":path", "")]
    public void Malformed_requests_are_stream_protocol_errors(params string[] kv)
    {
        var e = Assert.Throws<Http2ProtocolException>(() => HeaderRules.ValidateRequest(3, H(kv)));
        Assert.Equal(Http2ErrorCode.ProtocolError, e.Code);
        Assert.Equal(3, e.StreamId);
    }

    [Theory]
    [InlineData(":status", "20")]
    [InlineData(":status", "abc")]
    [InlineData("x", "y")]
    [InlineData(":path", "/")]
    public void Malformed_responses_are_rejected(string name, string value)
        => Assert.Throws<Http2ProtocolException>(() => HeaderRules.ValidateResponse(1, H(name, value)));

    [Fact]
    public void Response_with_status_is_valid() => HeaderRules.ValidateResponse(1, H(":status", "200", "server", "x"));
}

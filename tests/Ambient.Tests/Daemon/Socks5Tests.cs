using System.Net;
using Ambient.Daemon.Proxy;

namespace Ambient.Tests.Daemon;

public class Socks5Tests
{
    [Fact]
    public void Greeting_needs_all_methods_and_detects_no_auth()
    {
        Assert.Equal(0, Socks5.ParseGreeting([5, 2, 0], out _));
        Assert.Equal(4, Socks5.ParseGreeting([5, 2, 2, 0], out bool noAuth));
        Assert.True(noAuth);
        Socks5.ParseGreeting([5, 1, 2], out noAuth);
        Assert.False(noAuth);
        Assert.Throws<FormatException>(() => Socks5.ParseGreeting([4, 1, 0], out _));
        Assert.Throws<FormatException>(() => Socks5.ParseGreeting([5, 0], out _));
    }

    [Fact]
    public void Connect_requests_parse_for_each_address_type()
    {
        Assert.Equal(10, Socks5.ParseRequest([5, 1, 0, 1, 10, 96, 0, 10, 0, 80], out var t));
        Assert.Equal(new IPAddress([10, 96, 0, 10]), t.Address);
        Assert.Equal(80, t.Port);

        byte[] v6 = [5, 1, 0, 4, .. IPAddress.IPv6Loopback.GetAddressBytes(), 0x1f, 0x90];
        Assert.Equal(22, Socks5.ParseRequest(v6, out t));
        Assert.Equal(IPAddress.IPv6Loopback, t.Address);
        Assert.Equal(8080, t.Port);

        byte[] name = [5, 1, 0, 3, 4, (byte)'e', (byte)'c', (byte)'h', (byte)'o', 0, 80];
        Assert.Equal(name.Length, Socks5.ParseRequest(name, out t));
        Assert.Equal("echo", t.Host);
        Assert.Null(t.Address);
    }

    [Fact]
    public void Partial_requests_ask_for_more_at_every_cut()
    {
        byte[] name = [5, 1, 0, 3, 4, (byte)'e', (byte)'c', (byte)'h', (byte)'o', 0, 80];
        for (int i = 0; i < name.Length; i++)
            Assert.Equal(0, Socks5.ParseRequest(name.AsSpan(0, i), out _));
    }

    [Theory]
    [InlineData(new byte[] { 5, 2, 0, 1, 1, 2, 3, 4, 0, 80 }, Socks5.Reply.CommandNotSupported)]
    [InlineData(new byte[] { 5, 1, 0, 9, 1, 2, 3, 4, 0, 80 }, Socks5.Reply.AddressTypeNotSupported)]
    [InlineData(new byte[] { 5, 1, 0, 1, 1, 2, 3, 4, 0, 0 }, Socks5.Reply.HostUnreachable)]
    [InlineData(new byte[] { 5, 1, 0, 3, 0, 0, 80 }, Socks5.Reply.HostUnreachable)]
    [InlineData(new byte[] { 4, 1, 0, 1, 1, 2, 3, 4, 0, 80 }, Socks5.Reply.GeneralFailure)]
    public void Bad_requests_name_the_reply_to_send(byte[] request, Socks5.Reply reply)
        => Assert.Equal(reply, Assert.Throws<Socks5Exception>(() => Socks5.ParseRequest(request, out _)).Reply);
}

using System.Net;
using System.Net.Sockets;

namespace Ambient.Config;

/// <summary>
/// Strict IP/CIDR parsing. <see cref="IPAddress.TryParse(string, out IPAddress)"/> accepts forms such as <c>"10"</c>
/// or <c>"10.1"</c>; config files must use dotted-quad IPv4 (no leading zeros) or standard IPv6 text without zone ids.
/// </summary>
internal static class IpText
{
    public static bool TryParseAddress(string text, out IPAddress address)
    {
        address = IPAddress.None;
        if (text.Length == 0 || text.Contains('%')) return false;
        if (text.Contains(':'))
        {
            if (!IPAddress.TryParse(text, out var v6) || v6.AddressFamily != AddressFamily.InterNetworkV6) return false;
            address = v6;
            return true;
        }
        var parts = text.Split('.');
        if (parts.Length != 4) return false;
        Span<byte> bytes = stackalloc byte[4];
        for (var i = 0; i < 4; i++)
        {
            var part = parts[i];
            if (part.Length is 0 or > 3 || (part.Length > 1 && part[0] == '0')) return false;
            var value = 0;
            foreach (var c in part)
            {
                if (!char.IsAsciiDigit(c)) return false;
                value = value * 10 + (c - '0');
            }
            if (value > 255) return false;
            bytes[i] = (byte)value;
        }
        address = new IPAddress(bytes);
        return true;
    }

    /// <summary>Parses an address (→ /32 or /128) or <c>address/prefix</c>; host bits are masked off like Envoy does.</summary>
    public static bool TryParseCidr(string text, out IPNetwork network)
    {
        network = default;
        var slash = text.IndexOf('/');
        var addressText = slash < 0 ? text : text[..slash];
        if (!TryParseAddress(addressText, out var address)) return false;
        var bits = address.AddressFamily == AddressFamily.InterNetwork ? 32 : 128;
        var prefix = bits;
        if (slash >= 0)
        {
            var prefixText = text[(slash + 1)..];
            if (prefixText.Length is 0 or > 3 || !prefixText.All(char.IsAsciiDigit)) return false;
            prefix = int.Parse(prefixText, System.Globalization.CultureInfo.InvariantCulture);
            if (prefix > bits) return false;
        }
        var bytes = address.GetAddressBytes();
        for (var i = 0; i < bytes.Length; i++)
        {
            var keep = Math.Clamp(prefix - i * 8, 0, 8);
            bytes[i] &= (byte)(0xFF << (8 - keep));
        }
        network = new IPNetwork(new IPAddress(bytes), prefix);
        return true;
    }

    /// <summary>IPv4-mapped IPv6 (<c>::ffff:a.b.c.d</c>) → IPv4, so dual-stack sockets and config agree.</summary>
    public static IPAddress Normalize(IPAddress address) =>
        address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;
}

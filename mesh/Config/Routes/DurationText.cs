using System.Globalization;

namespace Ambient.Config.Routes;

/// <summary>
/// Duration strings as the two APIs write them. Gateway API (GEP-2257): 1 to 4 parts of up to 5 digits with unit
/// <c>h</c>, <c>m</c>, <c>s</c> or <c>ms</c> (<c>500ms</c>, <c>10s</c>, <c>1h2m</c>), no sign, no fraction.
/// Istio (Go <c>time.ParseDuration</c> as Istio's YAML accepts it): also fractions and <c>us</c>/<c>ns</c>
/// (<c>1.5s</c>, <c>250us</c>).
/// </summary>
public static class DurationText
{
    public const string GatewayRule = "expected a Gateway API duration: 1-4 parts of up to 5 digits with unit h, m, s or ms (e.g. 500ms, 10s, 1h2m)";
    public const string IstioRule = "expected a duration such as 100ms, 1.5s, 5m or 1h";

    public static bool TryParseGateway(string text, out TimeSpan value) => TryParse(text, strict: true, out value);

    public static bool TryParseIstio(string text, out TimeSpan value) => TryParse(text, strict: false, out value);

    private static bool TryParse(string text, bool strict, out TimeSpan value)
    {
        value = TimeSpan.Zero;
        if (text.Length == 0) return false;
        decimal totalMs = 0;
        var parts = 0;
        var i = 0;
        while (i < text.Length)
        {
            var start = i;
            while (i < text.Length && (char.IsAsciiDigit(text[i]) || (!strict && text[i] == '.'))) i++;
            var number = text.AsSpan(start, i - start);
            if (number.Length == 0 || (strict && number.Length > 5)) return false;
            if (!decimal.TryParse(number, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var amount)) return false;
            var unitStart = i;
            while (i < text.Length && !char.IsAsciiDigit(text[i]) && text[i] != '.') i++;
            decimal? unitMs = text.AsSpan(unitStart, i - unitStart) switch
            {
                "h" => 3_600_000m,
                "m" => 60_000m,
                "s" => 1_000m,
                "ms" => 1m,
                "us" or "µs" when !strict => 0.001m,
                "ns" when !strict => 0.000001m,
                _ => null,
            };
            if (unitMs is null) return false;
            totalMs += amount * unitMs.Value;
            if (++parts > (strict ? 4 : 16) || totalMs > (decimal)TimeSpan.MaxValue.TotalMilliseconds / 2) return false;
        }
        value = TimeSpan.FromTicks((long)(totalMs * TimeSpan.TicksPerMillisecond));
        return true;
    }
}

using System.Globalization;

namespace Ambient.Tests.Support;

/// <summary>One sample of the Prometheus text format: <c>name{label="value",...} 12</c>.</summary>
public sealed record PrometheusSample(string Name, IReadOnlyDictionary<string, string> Labels, double Value);

/// <summary>Reads the Prometheus text exposition format (enough of it for our own output: no escapes beyond \" and \\).</summary>
public static class PrometheusText
{
    public static List<PrometheusSample> Parse(string text)
    {
        var samples = new List<PrometheusSample>();
        foreach (var raw in text.Split('\n'))
        {
            var line = raw.Trim();
            if (line.Length == 0 || line[0] == '#') continue;
            var labels = new Dictionary<string, string>(StringComparer.Ordinal);
            int brace = line.IndexOf('{');
            string name;
            int rest;
            if (brace >= 0)
            {
                name = line[..brace];
                int i = brace + 1;
                while (line[i] != '}')
                {
                    int eq = line.IndexOf('=', i);
                    var key = line[i..eq].Trim(',', ' ');
                    i = eq + 2; // skip ="
                    var value = new System.Text.StringBuilder();
                    while (line[i] != '"')
                    {
                        if (line[i] == '\\') i++;
                        value.Append(line[i++]);
                    }
                    labels[key] = value.ToString();
                    i++;
                    if (line[i] == ',') i++;
                }
                rest = i + 1;
            }
            else
            {
                int space = line.IndexOf(' ');
                name = line[..space];
                rest = space;
            }
            var valueText = line[rest..].Trim().Split(' ')[0];
            samples.Add(new PrometheusSample(name, labels, double.Parse(valueText, CultureInfo.InvariantCulture)));
        }
        return samples;
    }

    /// <summary>The sum of a metric over the samples whose labels include all of <paramref name="match"/>.</summary>
    public static double Sum(IEnumerable<PrometheusSample> samples, string name, params (string Key, string Value)[] match)
    {
        double total = 0;
        foreach (var s in samples)
        {
            if (s.Name != name) continue;
            if (match.All(m => s.Labels.TryGetValue(m.Key, out var v) && v == m.Value)) total += s.Value;
        }
        return total;
    }
}

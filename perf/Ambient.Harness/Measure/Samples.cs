namespace Ambient.Harness.Measure;

/// <summary>The values one metric took over the alternating runs, summarised as median and spread.</summary>
public sealed class Samples
{
    private readonly List<double> _values = [];

    public IReadOnlyList<double> Values => _values;
    public int Count => _values.Count;

    public void Add(double value)
    {
        if (!double.IsNaN(value)) _values.Add(value);
    }

    public double Median => Quantile(0.5);
    public double Min => _values.Count == 0 ? double.NaN : _values.Min();
    public double Max => _values.Count == 0 ? double.NaN : _values.Max();

    /// <summary>Linear-interpolated quantile of the sorted values.</summary>
    public double Quantile(double q)
    {
        if (_values.Count == 0) return double.NaN;
        var sorted = _values.Order().ToArray();
        double pos = q * (sorted.Length - 1);
        int lo = (int)Math.Floor(pos), hi = (int)Math.Ceiling(pos);
        return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
    }
}

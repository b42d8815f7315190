namespace Ambient.Harness.Measure;

/// <summary>All samples of a harness run, by configuration and metric.</summary>
public sealed class ResultSet
{
    private readonly Dictionary<(string Config, string Metric), Samples> _samples = [];
    private readonly List<string> _notes = [];

    public void Add(string config, Metric metric, double value)
    {
        if (!_samples.TryGetValue((config, metric.Key), out var s))
            _samples[(config, metric.Key)] = s = new Samples();
        s.Add(value);
    }

    /// <summary>Every series, for the raw-data file.</summary>
    public IEnumerable<(string Config, string Metric, IReadOnlyList<double> Values)> All =>
        _samples.OrderBy(kv => kv.Key.Config).ThenBy(kv => kv.Key.Metric).Select(kv => (kv.Key.Config, kv.Key.Metric, kv.Value.Values));

    public Samples? Get(string config, Metric metric) => _samples.GetValueOrDefault((config, metric.Key));

    public double Median(string config, Metric metric) => Get(config, metric)?.Median ?? double.NaN;

    /// <summary>Things the reader must know (a skipped configuration, a failure); printed in the report.</summary>
    public IReadOnlyList<string> Notes => _notes;

    public void Note(string note) { lock (_notes) _notes.Add(note); }
}

using Ambient.Harness.Configs;
using Ambient.Harness.Measure;
using ScottPlot;

namespace Ambient.Harness.Report;

/// <summary>
/// Grouped bar charts of the results: one bar per configuration in each group, its height the median over the runs
/// and a whisker from the lowest to the highest run, so the spread is visible next to the value.
/// </summary>
public static class Plots
{
    // One colour per configuration (in ConfigCatalog.Names order), the same in every plot even when some are absent.
    private static readonly Color[] Palette =
        [Colors.Gray, Color.FromHex("#e59400"), Color.FromHex("#c0392b"), Color.FromHex("#1f77b4"), Color.FromHex("#17becf")];

    private static Color ColorOf(string config) =>
        Palette[Math.Max(0, ConfigCatalog.Names.ToList().IndexOf(config)) % Palette.Length];

    /// <summary>A group of bars (e.g. "p99" or "8 streams") and the metric each configuration's bar shows.</summary>
    public sealed record Group(string Label, Metric Metric);

    public static void GroupedBars(string path, string title, string yLabel, IReadOnlyList<string> configs, IReadOnlyList<Group> groups,
        ResultSet results, bool logScale = false)
    {
        var plot = new Plot();
        double width = 0.8 / configs.Count;
        for (int c = 0; c < configs.Count; c++)
        {
            var bars = new List<Bar>();
            for (int g = 0; g < groups.Count; g++)
            {
                var s = results.Get(configs[c], groups[g].Metric);
                if (s is null || s.Count == 0) continue;
                double x = g + (c - (configs.Count - 1) / 2.0) * width;
                bars.Add(new Bar { Position = x, Value = Scale(s.Median, logScale), Size = width * 0.9, FillColor = ColorOf(configs[c]) });
                var whisker = plot.Add.Line(x, Scale(s.Min, logScale), x, Scale(s.Max, logScale));
                whisker.LineColor = Colors.Black;
                whisker.LineWidth = 1.5f;
            }
            if (bars.Count > 0) plot.Add.Bars(bars);
            plot.Legend.ManualItems.Add(new LegendItem { LabelText = configs[c], FillColor = ColorOf(configs[c]) });
        }
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual(
            Enumerable.Range(0, groups.Count).Select(i => (double)i).ToArray(), groups.Select(g => g.Label).ToArray());
        if (logScale)
        {
            var ticks = new ScottPlot.TickGenerators.NumericAutomatic
            {
                MinorTickGenerator = new ScottPlot.TickGenerators.LogMinorTickGenerator(),
                IntegerTicksOnly = true,
                LabelFormatter = y => $"{Math.Pow(10, y):N0}",
            };
            plot.Axes.Left.TickGenerator = ticks;
        }
        else
        {
            plot.Axes.Margins(bottom: 0);
        }
        plot.Title(title);
        plot.YLabel(yLabel);
        plot.ShowLegend(Edge.Right); // outside the data area: it never hides a bar
        plot.SavePng(path, 1000, 500);
    }

    // Bars on a log axis are drawn in log10 space from 0 (= 1 unit); values below 1 are clamped to 1.
    private static double Scale(double value, bool log) => log ? Math.Log10(Math.Max(1, value)) : value;
}

using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using System.Text.RegularExpressions;
using Ambient.Tests.Support;

namespace Ambient.Tests.Ctl;

/// <summary>
/// deploy/grafana/ambient-node.json against what a running daemon actually exports: every metric a panel queries
/// exists, every label it groups or filters by is one of that metric's, and every ambient_/istio_tcp_ metric has a
/// panel — so the dashboard cannot drift from the code unnoticed.
/// </summary>
public sealed partial class DashboardTests : IAsyncLifetime
{
    /// <summary>Labels Prometheus adds to every scraped series.</summary>
    private static readonly string[] TargetLabels = ["instance", "job"];

    private readonly string _dir = Directory.CreateTempSubdirectory("ambient-dashboard-").FullName;
    private Dictionary<string, HashSet<string>> _exported = null!;

    private static string DashboardPath
    {
        get
        {
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            {
                var path = Path.Combine(dir.FullName, "deploy", "grafana", "ambient-node.json");
                if (File.Exists(path)) return path;
            }
            throw new FileNotFoundException("deploy/grafana/ambient-node.json not found above " + AppContext.BaseDirectory);
        }
    }

    /// <summary>Scrapes a daemon that has carried one connection and has rejected one object, so every series exists.</summary>
    public async Task InitializeAsync()
    {
        var sleep = new TestWorkload("sleep", "local", "sleep");
        var echo = new TestWorkload("echo", "local", "echo");
        var config = Path.Combine(_dir, "ambient.yaml");
        File.WriteAllText(config, LocalMesh.Config([sleep, echo], extra: """
            authorizationPolicies:
              - metadata: {name: broken, namespace: default}
                spec: {action: PERMIT}

            """));
        var metrics = new IPEndPoint(TestAddresses.Next(), 15020);
        using var daemon = DaemonProcess.Start("--config", config, "--state-dir", _dir, "--node", "local", "--readiness", "off",
            "--metrics", metrics.ToString(), "--admin", "off", "--log-format", "json");
        await using var server = new EchoServer(echo.Address, 8080);
        await daemon.WaitForOutputAsync("ready: serving");
        using (var s = await Socks5Client.ConnectAsync(sleep.Socks5, new IPEndPoint(echo.Address, 8080)))
        {
            await s.SendAsync("ping"u8.ToArray(), SocketFlags.None);
            await Socks5Client.ReadExactlyAsync(s, 4, default);
        }

        using var http = new HttpClient();
        var until = DateTime.UtcNow.AddSeconds(15);
        List<PrometheusSample> samples;
        do
        {
            samples = PrometheusText.Parse(await http.GetStringAsync($"http://{metrics}/metrics"));
            if (PrometheusText.Sum(samples, "istio_tcp_connections_closed_total") >= 2) break;
            await Task.Delay(100);
        } while (DateTime.UtcNow < until);

        _exported = samples.GroupBy(s => s.Name)
            .ToDictionary(g => g.Key, g => g.SelectMany(s => s.Labels.Keys).Concat(TargetLabels).ToHashSet());
    }

    public Task DisposeAsync()
    {
        try { Directory.Delete(_dir, true); } catch (IOException) { }
        return Task.CompletedTask;
    }

    [Fact]
    public void Every_metric_and_label_a_panel_queries_is_exported_by_the_daemon()
    {
        var expressions = Expressions(JsonDocument.Parse(File.ReadAllText(DashboardPath)).RootElement).ToList();
        Assert.NotEmpty(expressions);
        foreach (var (panel, expr) in expressions)
        {
            var (metrics, labels) = PromQl.Names(expr);
            Assert.True(metrics.Count > 0, $"panel '{panel}': no metric in {expr}");
            foreach (var metric in metrics)
                Assert.True(_exported.ContainsKey(metric), $"panel '{panel}' queries {metric}, which the daemon does not export");
            var known = metrics.Where(_exported.ContainsKey).SelectMany(m => _exported[m]).ToHashSet();
            foreach (var label in labels)
                Assert.True(known.Contains(label), $"panel '{panel}' uses label {label}, which none of {string.Join(", ", metrics)} has");
        }
    }

    [Fact]
    public void Every_ambient_and_istio_tcp_metric_has_a_panel()
    {
        var used = Expressions(JsonDocument.Parse(File.ReadAllText(DashboardPath)).RootElement)
            .SelectMany(e => PromQl.Names(e.Expr).Metrics).ToHashSet();
        var ours = _exported.Keys.Where(n => n.StartsWith("ambient_", StringComparison.Ordinal) || n.StartsWith("istio_tcp_", StringComparison.Ordinal));
        var missing = ours.Where(n => !used.Contains(n)).ToList();
        Assert.True(missing.Count == 0, $"no panel shows {string.Join(", ", missing)}");
    }

    [Fact]
    public void The_dashboard_has_a_datasource_and_a_node_variable_and_every_panel_uses_them()
    {
        var root = JsonDocument.Parse(File.ReadAllText(DashboardPath)).RootElement;
        var variables = root.GetProperty("templating").GetProperty("list").EnumerateArray()
            .ToDictionary(v => v.GetProperty("name").GetString()!, v => v.GetProperty("type").GetString());
        Assert.Equal("datasource", variables["datasource"]);
        Assert.Equal("query", variables["node"]);
        foreach (var panel in Panels(root).Where(p => p.GetProperty("type").GetString() != "row"))
        {
            Assert.Equal("${datasource}", panel.GetProperty("datasource").GetProperty("uid").GetString());
            foreach (var target in panel.GetProperty("targets").EnumerateArray())
                Assert.Contains("instance=~\"$node\"", target.GetProperty("expr").GetString());
        }
    }

    /// <summary>Panels, including those nested in collapsed rows.</summary>
    private static IEnumerable<JsonElement> Panels(JsonElement container)
    {
        if (!container.TryGetProperty("panels", out var panels)) yield break;
        foreach (var panel in panels.EnumerateArray())
        {
            yield return panel;
            foreach (var nested in Panels(panel)) yield return nested;
        }
    }

    /// <summary>Every PromQL expression of the dashboard: panel targets and query variables.</summary>
    private static IEnumerable<(string Panel, string Expr)> Expressions(JsonElement root)
    {
        foreach (var panel in Panels(root))
        {
            if (!panel.TryGetProperty("targets", out var targets)) continue;
            foreach (var target in targets.EnumerateArray())
                yield return (panel.GetProperty("title").GetString()!, target.GetProperty("expr").GetString()!);
        }
        foreach (var variable in root.GetProperty("templating").GetProperty("list").EnumerateArray())
        {
            if (variable.GetProperty("type").GetString() == "query")
                yield return ("$" + variable.GetProperty("name").GetString(), variable.GetProperty("definition").GetString()!);
        }
    }
}

/// <summary>
/// Just enough of PromQL to find the metric names and label names an expression uses — the dashboard's
/// expressions, not the whole language: label matchers in braces, <c>by/without (…)</c> groupings, function calls,
/// Grafana's <c>$variables</c>, and <c>label_values(metric, label)</c> from template queries.
/// </summary>
public static partial class PromQl
{
    private static readonly HashSet<string> Keywords = ["by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "bool", "offset"];

    public static (IReadOnlyCollection<string> Metrics, IReadOnlyCollection<string> Labels) Names(string expr)
    {
        var labels = new HashSet<string>();
        var text = GrafanaVariable().Replace(StringLiteral().Replace(expr, "\"\""), "");
        text = LabelValues().Replace(text, m => { labels.Add(m.Groups[2].Value); return m.Groups[1].Value; });
        text = Matchers().Replace(text, m =>
        {
            foreach (Match name in MatcherName().Matches(m.Groups[1].Value)) labels.Add(name.Groups[1].Value);
            return " ";
        });
        text = Grouping().Replace(text, m =>
        {
            foreach (var name in m.Groups[1].Value.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)) labels.Add(name);
            return " ";
        });
        text = RangeOrOffset().Replace(text, " ");
        var metrics = Identifier().Matches(text)
            .Where(m => !m.Groups[2].Success && !Keywords.Contains(m.Groups[1].Value)) // group 2: followed by '(' = a function
            .Select(m => m.Groups[1].Value)
            .ToHashSet();
        return (metrics, labels);
    }

    [GeneratedRegex("\"(?:[^\"\\\\]|\\\\.)*\"")]
    private static partial Regex StringLiteral();

    [GeneratedRegex(@"\$\{?\w+\}?")]
    private static partial Regex GrafanaVariable();

    [GeneratedRegex(@"label_values\(\s*([a-zA-Z_:][\w:]*)\s*,\s*(\w+)\s*\)")]
    private static partial Regex LabelValues();

    [GeneratedRegex(@"\{([^}]*)\}")]
    private static partial Regex Matchers();

    [GeneratedRegex(@"([a-zA-Z_]\w*)\s*(?:=~|!~|!=|=)")]
    private static partial Regex MatcherName();

    [GeneratedRegex(@"\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)")]
    private static partial Regex Grouping();

    [GeneratedRegex(@"\[[^\]]*\]")]
    private static partial Regex RangeOrOffset();

    [GeneratedRegex(@"(?<![\w.])([a-zA-Z_:][\w:]*)(\s*\()?")]
    private static partial Regex Identifier();
}

/// <summary>The PromQL name finder itself: if it found nothing, the dashboard checks above would pass vacuously.</summary>
public sealed class PromQlTests
{
    [Fact]
    public void Finds_metrics_and_labels_but_not_functions_keywords_or_variables()
    {
        var (metrics, labels) = PromQl.Names(
            "sum by (a, b) (rate(foo_total{c=~\"$node\", d!=\"x{y}\"}[$__rate_interval])) / on (e) bar - time() or vector(0)");
        Assert.Equal(["bar", "foo_total"], metrics.Order());
        Assert.Equal(["a", "b", "c", "d", "e"], labels.Order());
    }

    [Fact]
    public void Reads_template_queries()
    {
        var (metrics, labels) = PromQl.Names("label_values(ambient_config_generation, instance)");
        Assert.Equal(["ambient_config_generation"], metrics);
        Assert.Equal(["instance"], labels);
    }
}

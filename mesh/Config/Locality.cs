namespace Ambient.Config;

/// <summary>Topology of a workload, written in YAML as <c>"region/zone/subzone"</c> (trailing parts optional).</summary>
public sealed record Locality(string Region, string Zone, string Subzone)
{
    public static Locality Empty { get; } = new("", "", "");

    public bool IsEmpty => Region.Length == 0 && Zone.Length == 0 && Subzone.Length == 0;

    /// <summary>Parses <c>region[/zone[/subzone]]</c>; null when there are more than three parts.</summary>
    public static Locality? Parse(string text)
    {
        if (text.Length == 0) return Empty;
        var parts = text.Split('/');
        if (parts.Length > 3) return null;
        return new Locality(parts[0], parts.Length > 1 ? parts[1] : "", parts.Length > 2 ? parts[2] : "");
    }

    public override string ToString() =>
        Subzone.Length > 0 ? $"{Region}/{Zone}/{Subzone}" : Zone.Length > 0 ? $"{Region}/{Zone}" : Region;
}

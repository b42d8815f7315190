namespace Ambient.Config;

/// <summary>"did you mean" helper for unknown field names and enum values.</summary>
internal static class Suggestions
{
    /// <summary>The candidate closest to <paramref name="input"/> (case-insensitive edit distance), or null if none is close.</summary>
    public static string? Closest(string input, IEnumerable<string> candidates)
    {
        string? best = null;
        var bestDistance = int.MaxValue;
        foreach (var candidate in candidates)
        {
            if (string.Equals(input, candidate, StringComparison.OrdinalIgnoreCase)) return candidate;
            var distance = EditDistance(input.ToLowerInvariant(), candidate.ToLowerInvariant());
            var allowed = Math.Clamp(candidate.Length / 3, 1, 3);
            if (distance <= allowed && distance < bestDistance)
            {
                best = candidate;
                bestDistance = distance;
            }
        }
        return best;
    }

    /// <summary>Optimal string alignment distance (Levenshtein + adjacent transpositions).</summary>
    internal static int EditDistance(string a, string b)
    {
        if (a.Length > 64 || b.Length > 64) return int.MaxValue;
        var d = new int[a.Length + 1, b.Length + 1];
        for (var i = 0; i <= a.Length; i++) d[i, 0] = i;
        for (var j = 0; j <= b.Length; j++) d[0, j] = j;
        for (var i = 1; i <= a.Length; i++)
        {
            for (var j = 1; j <= b.Length; j++)
            {
                var cost = a[i - 1] == b[j - 1] ? 0 : 1;
                d[i, j] = Math.Min(Math.Min(d[i - 1, j] + 1, d[i, j - 1] + 1), d[i - 1, j - 1] + cost);
                if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
                    d[i, j] = Math.Min(d[i, j], d[i - 2, j - 2] + 1);
            }
        }
        return d[a.Length, b.Length];
    }
}

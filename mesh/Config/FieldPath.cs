namespace Ambient.Config;

/// <summary>Builds field paths like <c>workloads[1].labels["app.kubernetes.io/name"]</c>.</summary>
internal static class FieldPath
{
    public static string Field(string parent, string key)
    {
        if (IsSimple(key)) return parent.Length == 0 ? key : $"{parent}.{key}";
        return $"{parent}[\"{key.Replace("\\", "\\\\").Replace("\"", "\\\"")}\"]";
    }

    public static string Index(string parent, int index) => $"{parent}[{index}]";

    private static bool IsSimple(string key)
    {
        if (key.Length == 0 || !(char.IsAsciiLetter(key[0]) || key[0] == '_')) return false;
        foreach (var c in key)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c is '_' or '-')) return false;
        }
        return true;
    }
}

namespace Ambient.Config;

/// <summary>
/// One problem found while loading a config file. <see cref="Line"/> and <see cref="Column"/> are 1-based;
/// both are 0 when the problem has no position (for example the file could not be read).
/// <see cref="FieldPath"/> starts with the owning object (<c>workloads[1]</c>, <c>authorizationPolicies[0]</c>, ...)
/// so errors can later be attributed to a single object; it is empty for file-level problems.
/// </summary>
public sealed record ConfigError(string File, int Line, int Column, string FieldPath, string Message)
{
    /// <summary>
    /// The top-level object the error belongs to, e.g. <c>workloads[1]</c> for <c>workloads[1].addresses[0]</c>;
    /// the top-level key itself (e.g. <c>trustDomain</c>) for non-list keys, and empty for file-level errors.
    /// </summary>
    public string ObjectPath
    {
        get
        {
            var end = FieldPath.IndexOfAny(['.', '[']);
            if (end < 0) return FieldPath;
            if (FieldPath[end] == '[')
            {
                var close = FieldPath.IndexOf(']', end);
                return close < 0 ? FieldPath : FieldPath[..(close + 1)];
            }
            return FieldPath[..end];
        }
    }

    /// <summary><c>ambient.yaml:12:7: workloads[1].addresses[0]: '10.0.0.300' is not an IP address</c></summary>
    public override string ToString()
    {
        var position = Line > 0 ? $"{File}:{Line}:{Column}" : File;
        return FieldPath.Length == 0 ? $"{position}: {Message}" : $"{position}: {FieldPath}: {Message}";
    }
}

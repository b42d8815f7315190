using System.Text;

namespace Ambient.Ctl;

/// <summary>
/// Rows under upper-case headers, each column as wide as its widest cell and three spaces apart, as kubectl prints
/// them: easy to read, and to cut with awk. An empty cell shows as <c>&lt;none&gt;</c> so columns never shift.
/// </summary>
public sealed class Table(params string[] headers)
{
    public const string Gap = "   ";
    public const string None = "<none>";

    private readonly List<string[]> _rows = [];

    public int RowCount => _rows.Count;

    public Table Add(params string[] cells)
    {
        if (cells.Length != headers.Length)
            throw new ArgumentException($"a row of {cells.Length} cells in a table of {headers.Length} columns", nameof(cells));
        _rows.Add(cells.Select(c => string.IsNullOrEmpty(c) ? None : c).ToArray());
        return this;
    }

    public string Render()
    {
        var widths = new int[headers.Length];
        foreach (var row in _rows.Prepend(headers))
            for (int c = 0; c < row.Length; c++)
                widths[c] = Math.Max(widths[c], row[c].Length);

        var text = new StringBuilder();
        foreach (var row in _rows.Prepend(headers))
        {
            for (int c = 0; c < row.Length; c++)
            {
                bool last = c == row.Length - 1;
                // The last column is not padded: no trailing spaces to trip up diff or copy-paste.
                text.Append(last ? row[c] : row[c].PadRight(widths[c])).Append(last ? "" : Gap);
            }
            text.Append('\n');
        }
        return text.ToString();
    }
}

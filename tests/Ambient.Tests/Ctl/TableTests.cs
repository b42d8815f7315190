using Ambient.Ctl;

namespace Ambient.Tests.Ctl;

public sealed class TableTests
{
    [Fact]
    public void Columns_are_as_wide_as_their_widest_cell_and_three_spaces_apart()
    {
        var text = new Table("NAME", "ADDRESS", "LOCAL")
            .Add("sleep", "10.0.0.1", "true")
            .Add("a-much-longer-name", "10.0.0.200", "false")
            .Render();

        Assert.Equal(
            "NAME                 ADDRESS      LOCAL\n" +
            "sleep                10.0.0.1     true\n" +
            "a-much-longer-name   10.0.0.200   false\n", text);
    }

    [Fact]
    public void Empty_cells_show_as_none_so_columns_never_shift_and_the_last_column_has_no_trailing_spaces()
    {
        var lines = new Table("A", "WAYPOINT", "LAST").Add("x", "", "").Add("y", "default/waypoint", "long value").Render().Split('\n');

        Assert.Equal("x   <none>             <none>", lines[1]);
        Assert.All(lines, line => Assert.Equal(line.TrimEnd(), line));
    }

    [Fact]
    public void A_table_with_no_rows_still_prints_its_header()
    {
        Assert.Equal("NAMESPACE   NAME\n", new Table("NAMESPACE", "NAME").Render());
    }

    [Fact]
    public void A_row_with_the_wrong_number_of_cells_is_a_programming_error()
    {
        Assert.Throws<ArgumentException>(() => new Table("A", "B").Add("only one"));
    }
}

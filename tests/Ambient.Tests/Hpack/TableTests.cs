using Ambient.Http2;
using Ambient.Http2.Hpack;
using static Ambient.Tests.Hpack.HpackTestHelpers;

namespace Ambient.Tests.Hpack;

public class StaticTableTests
{
    [Theory]
    [InlineData(1, ":authority", "")]
    [InlineData(2, ":method", "GET")]
    [InlineData(3, ":method", "POST")]
    [InlineData(4, ":path", "/")]
    [InlineData(5, ":path", "/index.html")]
    [InlineData(7, ":scheme", "https")]
    [InlineData(8, ":status", "200")]
    [InlineData(14, ":status", "500")]
    [InlineData(16, "accept-encoding", "gzip, deflate")]
    [InlineData(23, "authorization", "")]
    [InlineData(32, "cookie", "")]
    [InlineData(49, "proxy-authorization", "")]
    [InlineData(55, "set-cookie", "")]
    [InlineData(61, "www-authenticate", "")]
    public void EntriesMatchAppendixA(int index, string name, string value)
    {
        Assert.Equal(new HeaderField(name, value), StaticTable.Get(index));
    }

    [Fact]
    public void HasSixtyOneEntriesAndLookupsAgree()
    {
        Assert.Equal(61, StaticTable.Count);
        for (int i = 1; i <= StaticTable.Count; i++)
        {
            HeaderField f = StaticTable.Get(i);
            Assert.Equal(i, StaticTable.FindField(f.Name, f.Value));
            int byName = StaticTable.FindName(f.Name);
            Assert.InRange(byName, 1, i);
            Assert.Equal(f.Name, StaticTable.Get(byName).Name);
        }

        Assert.Equal(2, StaticTable.FindName(":method"));
        Assert.Equal(8, StaticTable.FindName(":status"));
        Assert.Equal(0, StaticTable.FindName("x-custom"));
        Assert.Equal(0, StaticTable.FindField(":method", "PUT"));
        Assert.Equal(0, StaticTable.FindField(":method", "get"));
    }
}

public class DynamicTableTests
{
    [Fact]
    public void NewestEntryComesFirst()
    {
        var table = new DynamicTable(4096);
        table.Add(H("a", "1"));
        table.Add(H("b", "2"));
        table.Add(H("c", "3"));
        Assert.Equal([H("c", "3"), H("b", "2"), H("a", "1")], Entries(table));
        Assert.Equal(3 * 34, table.Size);
        Assert.Equal(3, table.InsertCount);
    }

    [Fact]
    public void EvictsOldestUntilTheNewEntryFits()
    {
        var table = new DynamicTable(100); // room for two 34-octet entries plus 32
        table.Add(H("a", "1"));
        table.Add(H("b", "2"));
        Assert.Equal(68, table.Size);
        table.Add(H("c", "3"));
        Assert.Equal([H("c", "3"), H("b", "2")], Entries(table));
        Assert.Equal(68, table.Size);

        // A 66-octet entry fits exactly next to the newest 34-octet one (34 + 66 = 100)...
        table.Add(H("dd", new string('x', 32)));
        Assert.Equal([H("dd", new string('x', 32)), H("c", "3")], Entries(table));
        Assert.Equal(100, table.Size);

        // ...and a 67-octet one evicts everything else.
        table.Add(H("ee", new string('y', 33)));
        Assert.Equal([H("ee", new string('y', 33))], Entries(table));
        Assert.Equal(67, table.Size);
    }

    [Fact]
    public void EntryLargerThanTheTableEmptiesIt()
    {
        var table = new DynamicTable(100);
        table.Add(H("a", "1"));
        table.Add(H("b", "2"));
        table.Add(H("big", new string('x', 66))); // 101 octets > 100
        Assert.Equal(0, table.Count);
        Assert.Equal(0, table.Size);

        table.Add(H("exact", new string('y', 63))); // exactly 100 octets fits
        Assert.Equal(1, table.Count);
        Assert.Equal(100, table.Size);
    }

    [Fact]
    public void ShrinkingEvictsAndZeroEmpties()
    {
        var table = new DynamicTable(4096);
        for (int i = 0; i < 10; i++)
        {
            table.Add(H("n" + i, "v"));
        }

        table.SetMaxSize(3 * 35);
        Assert.Equal([H("n9", "v"), H("n8", "v"), H("n7", "v")], Entries(table));
        table.SetMaxSize(0);
        Assert.Equal(0, table.Count);
        Assert.Equal(0, table.Size);
        table.Add(H("a", "b"));
        Assert.Equal(0, table.Count);
        table.SetMaxSize(4096);
        table.Add(H("a", "b"));
        Assert.Equal(1, table.Count);
    }

    [Fact]
    public void RingBufferWrapsAndGrowsCorrectly()
    {
        // Compare with a simple list model over many adds, shrinks and grows.
        var random = new Random(42);
        var table = new DynamicTable(512);
        var model = new List<HeaderField>(); // newest first
        int max = 512;
        for (int step = 0; step < 20000; step++)
        {
            if (random.Next(50) == 0)
            {
                max = random.Next(0, 2000);
                table.SetMaxSize(max);
                while (model.Sum(f => f.HpackSize) > max)
                {
                    model.RemoveAt(model.Count - 1);
                }
            }
            else
            {
                var field = H("k" + random.Next(100), new string('v', random.Next(0, 60)));
                table.Add(field);
                if (field.HpackSize > max)
                {
                    model.Clear();
                }
                else
                {
                    while (model.Sum(f => f.HpackSize) + field.HpackSize > max)
                    {
                        model.RemoveAt(model.Count - 1);
                    }

                    model.Insert(0, field);
                }
            }

            Assert.Equal(model.Count, table.Count);
            Assert.Equal(model.Sum(f => f.HpackSize), table.Size);
            if (step % 97 == 0)
            {
                Assert.Equal(model, Entries(table));
            }
        }
    }

    [Fact]
    public void IndexOutOfRangeThrows()
    {
        var table = new DynamicTable(4096);
        table.Add(H("a", "b"));
        Assert.Throws<ArgumentOutOfRangeException>(() => table[1]);
        Assert.Throws<ArgumentOutOfRangeException>(() => table[-1]);
    }
}

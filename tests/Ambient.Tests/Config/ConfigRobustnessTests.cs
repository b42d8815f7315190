using Ambient.Config;

namespace Ambient.Tests.Config;

/// <summary>Mangled input must produce errors, never exceptions.</summary>
public class ConfigRobustnessTests
{
    private static string ShippedDefault() => ConfigLoader.ReadEmbeddedDefault();

    [Fact]
    public void DeletingOrTruncatingAnyLine_NeverThrows()
    {
        var lines = ShippedDefault().Split('\n');
        for (var i = 0; i < lines.Length; i++)
        {
            var without = string.Join('\n', lines.Where((_, j) => j != i));
            AssertNoThrow(without);
            var truncated = string.Join('\n', lines.Select((l, j) => j == i ? l[..(l.Length / 2)] : l));
            AssertNoThrow(truncated);
            var prefix = string.Join('\n', lines.Take(i));
            AssertNoThrow(prefix);
        }
    }

    [Fact]
    public void RandomCharacterMutations_NeverThrow()
    {
        var text = ShippedDefault();
        const string alphabet = ":-[]{}\"'&*!|>#%@`,? \t\n0123456789abcXYZ/.~";
        var random = new Random(12345);
        for (var round = 0; round < 600; round++)
        {
            var chars = text.ToCharArray();
            var edits = random.Next(1, 4);
            for (var e = 0; e < edits; e++)
            {
                chars[random.Next(chars.Length)] = alphabet[random.Next(alphabet.Length)];
            }
            AssertNoThrow(new string(chars));
        }
    }

    private static void AssertNoThrow(string yaml)
    {
        var result = ConfigLoader.LoadText(yaml, "fuzz.yaml", 1);
        // No errors means a config; a config with errors left out exactly the objects the errors name.
        if (result.Errors.IsEmpty) Assert.NotNull(result.Config);
        else ConfigTestHelpers.AssertRejectedAlone(result);
        foreach (var error in result.Errors)
        {
            Assert.Equal("fuzz.yaml", error.File);
            Assert.True(error.Line >= 1 || error.FieldPath.Length == 0, error.ToString());
            Assert.False(string.IsNullOrWhiteSpace(error.Message));
        }
    }
}

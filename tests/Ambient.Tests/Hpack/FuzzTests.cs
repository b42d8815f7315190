using System.Buffers;
using Ambient.Http2;
using Ambient.Http2.Hpack;
using static Ambient.Tests.Hpack.HpackTestHelpers;

namespace Ambient.Tests.Hpack;

/// <summary>
/// Seeded fuzzing: random and mutated blocks must either decode or throw <see cref="HpackException"/> — never
/// any other exception — and a successful decode must respect the header list limit.
/// </summary>
public class FuzzTests
{
    private static readonly byte[] s_interesting = [0x00, 0x01, 0x0f, 0x10, 0x1f, 0x20, 0x3f, 0x40, 0x7e, 0x7f, 0x80, 0x81, 0xbe, 0xbf, 0xfe, 0xff];

    [Fact]
    public void RandomAndMutatedBlocksOnlyEverThrowHpackException()
    {
        var random = new Random(0x7541);
        List<byte[]> corpus = BuildCorpus(random);
        int decoded = 0, rejected = 0;

        HpackDecoder? persistent = null;
        for (int i = 0; i < 20_000; i++)
        {
            byte[] block = (i % 5) switch
            {
                0 => RandomBlock(random),
                _ => Mutate(random, corpus, corpus[random.Next(corpus.Count)]),
            };

            // Half the time a long-lived decoder (state carried across blocks, replaced after an error),
            // otherwise a fresh one with random limits, sometimes with a populated dynamic table.
            HpackDecoder decoder;
            if (i % 2 == 0)
            {
                decoder = persistent ??= new HpackDecoder(random.Next(0, 8192), random.Next(0, 100_000));
            }
            else
            {
                decoder = new HpackDecoder(random.Next(0, 8192), random.Next(0, 100_000));
                if (random.Next(2) == 0)
                {
                    decoder.MaxHeaderListSize = 1 << 20;
                    TryDecode(decoder, Hex(RfcExampleTests.C3[0]), out _);
                    decoder.MaxHeaderListSize = random.Next(0, 100_000);
                }
            }

            var output = new List<HeaderField>();
            try
            {
                if (random.Next(4) == 0)
                {
                    decoder.Decode(Segmented(block, random.Next(1, 8)), output);
                }
                else
                {
                    decoder.Decode(block, output);
                }

                decoded++;
                long listSize = output.Sum(f => (long)f.HpackSize);
                Assert.True(listSize <= decoder.MaxHeaderListSize, $"case {i}: list {listSize} > {decoder.MaxHeaderListSize}");
                Assert.True(decoder.DynamicTable.Size <= decoder.DynamicTable.MaxSize, $"case {i}: table overflow");
                Assert.True(decoder.DynamicTable.MaxSize <= decoder.MaxDynamicTableSize, $"case {i}: table above limit");
            }
            catch (HpackException)
            {
                rejected++;
                if (ReferenceEquals(decoder, persistent))
                {
                    persistent = null;
                }
            }
            catch (Exception ex)
            {
                Assert.Fail($"case {i}: {ex.GetType().Name} for block {ToHex(block)}: {ex}");
            }
        }

        // The fuzzer must exercise both outcomes substantially.
        Assert.True(decoded > 1000, $"only {decoded} blocks decoded");
        Assert.True(rejected > 1000, $"only {rejected} blocks rejected");
    }

    [Fact]
    public void RandomHuffmanInputOnlyEverThrowsHpackException()
    {
        var random = new Random(0xB0B);
        byte[] dst = new byte[1024];
        for (int i = 0; i < 20_000; i++)
        {
            byte[] src = new byte[random.Next(0, 64)];
            random.NextBytes(src);
            if (i % 3 == 0)
            {
                // Bias towards long codes (runs of ones).
                for (int j = 0; j < src.Length; j++)
                {
                    src[j] |= (byte)(random.Next(2) == 0 ? 0xFF : 0xF0);
                }
            }

            try
            {
                int n = Huffman.Decode(src, dst);
                byte[] reencoded = new byte[Huffman.GetEncodedLength(dst.AsSpan(0, n))];
                Huffman.Encode(dst.AsSpan(0, n), reencoded);
                Assert.Equal(src, reencoded); // a valid encoding is canonical: it re-encodes to the same octets
            }
            catch (HpackException)
            {
            }
        }
    }

    private static bool TryDecode(HpackDecoder decoder, byte[] block, out List<HeaderField> output)
    {
        output = [];
        try
        {
            decoder.Decode(block, output);
            return true;
        }
        catch (HpackException)
        {
            return false;
        }
    }

    private static List<byte[]> BuildCorpus(Random random)
    {
        var corpus = new List<byte[]>();
        foreach (string[] section in new[] { RfcExampleTests.C3, RfcExampleTests.C4, RfcExampleTests.C5, RfcExampleTests.C6 })
        {
            corpus.AddRange(section.Select(Hex));
        }

        corpus.Add(Hex("400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572"));
        corpus.Add(Hex("040c 2f73 616d 706c 652f 7061 7468"));
        corpus.Add(Hex("1008 7061 7373 776f 7264 0673 6563 7265 74"));
        corpus.Add(Hex("3fe11f 82"));

        var encoder = new HpackEncoder();
        for (int i = 0; i < 100; i++)
        {
            if (i % 20 == 0)
            {
                encoder.SetPeerMaxTableSize(random.Next(0, 5000));
            }

            var writer = new ArrayBufferWriter<byte>();
            encoder.Encode(EncoderTests.RandomHeaders(random), writer);
            corpus.Add(writer.WrittenSpan.ToArray());
        }

        return corpus;
    }

    private static byte[] RandomBlock(Random random)
    {
        byte[] block = new byte[random.Next(0, 48)];
        for (int i = 0; i < block.Length; i++)
        {
            block[i] = random.Next(3) == 0 ? s_interesting[random.Next(s_interesting.Length)] : (byte)random.Next(256);
        }

        return block;
    }

    private static byte[] Mutate(Random random, List<byte[]> corpus, byte[] original)
    {
        var data = new List<byte>(original);
        int mutations = random.Next(1, 5);
        for (int m = 0; m < mutations; m++)
        {
            switch (random.Next(9))
            {
                case 0 when data.Count > 0: // flip a bit
                    int bit = random.Next(data.Count * 8);
                    data[bit / 8] ^= (byte)(1 << (bit % 8));
                    break;
                case 1 when data.Count > 0: // overwrite with an interesting octet
                    data[random.Next(data.Count)] = s_interesting[random.Next(s_interesting.Length)];
                    break;
                case 2 when data.Count > 0: // overwrite with a random octet
                    data[random.Next(data.Count)] = (byte)random.Next(256);
                    break;
                case 3: // insert random octets
                    int at = random.Next(data.Count + 1);
                    for (int k = random.Next(1, 6); k > 0; k--)
                    {
                        data.Insert(at, (byte)random.Next(256));
                    }

                    break;
                case 4 when data.Count > 0: // delete a range
                    int start = random.Next(data.Count);
                    data.RemoveRange(start, random.Next(1, Math.Min(8, data.Count - start) + 1));
                    break;
                case 5 when data.Count > 0: // truncate
                    int keep = random.Next(data.Count);
                    data.RemoveRange(keep, data.Count - keep);
                    break;
                case 6: // splice in another corpus block
                    byte[] other = corpus[random.Next(corpus.Count)];
                    data.InsertRange(random.Next(data.Count + 1), other.Take(random.Next(other.Length + 1)));
                    break;
                case 7: // a huge prefix integer
                    data.InsertRange(random.Next(data.Count + 1), Hex("ff ff ff ff 0f"));
                    break;
                default: // duplicate a range (repeated references)
                    if (data.Count > 0)
                    {
                        int s = random.Next(data.Count);
                        var slice = data.GetRange(s, random.Next(1, Math.Min(16, data.Count - s) + 1));
                        for (int k = random.Next(1, 20); k > 0; k--)
                        {
                            data.InsertRange(s, slice);
                        }
                    }

                    break;
            }
        }

        return data.ToArray();
    }
}

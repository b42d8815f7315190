using System.Buffers;
using System.Net;
using System.Text;
using Ambient.Hbone;
using Ambient.Http2;
using Ambient.Http2.Hpack;
using BenchmarkDotNet.Attributes;

namespace Ambient.Benchmarks;

/// <summary>
/// HPACK on the HBONE header blocks: the CONNECT request the daemon sends per tunnel
/// (:method CONNECT, :authority ip:port, forwarded: for="client ip:port") and the 200 answer.
/// </summary>
[MemoryDiagnoser]
public class HpackBenchmarks
{
    private static readonly IPEndPoint Target = IPEndPoint.Parse("10.244.1.17:8080");

    private const int ClientPorts = 4096;

    private readonly List<HeaderField> _decoded = new(8);
    private readonly ArrayBufferWriter<byte> _output = new(1024);
    private HeaderField[] _connect = null!;
    private HeaderField[][] _connectByPort = null!;
    private int _next;
    private byte[] _staticHuffmanBlock = null!;
    private byte[] _firstOnConnectionBlock = null!;
    private byte[] _indexedBlock = null!;
    private byte[] _status200Block = null!;
    private HpackDecoder _statelessDecoder = null!;
    private HpackDecoder _resettingDecoder = null!;
    private HpackDecoder _warmDecoder = null!;
    private HpackEncoder _warmEncoder = null!;
    private HpackEncoder _churnEncoder = null!;

    public static HeaderField[] ConnectHeaders(int clientPort)
        => HboneHeaders.Connect(Target, new IPEndPoint(IPAddress.Parse("10.244.2.33"), clientPort));

    [GlobalSetup]
    public void Setup()
    {
        _connect = ConnectHeaders(54321);
        _connectByPort = new HeaderField[ClientPorts][];
        for (int i = 0; i < ClientPorts; i++)
            _connectByPort[i] = ConnectHeaders(30000 + i);

        // Static name references (or a literal name) and Huffman values, never indexed: decoding it leaves the
        // decoder unchanged, so every iteration is the same work.
        _staticHuffmanBlock = EncodeWithoutIndexing(_connect);

        // Exactly what a fresh HpackEncoder sends first on a connection (literals with incremental indexing),
        // preceded by two table size updates (0, then 4096) that empty the decoder's table: legal at the start
        // of a block, and it makes the block repeatable.
        var first = new ArrayBufferWriter<byte>();
        new HpackEncoder().Encode(_connect, first);
        _firstOnConnectionBlock = [0x20, 0x3F, 0xE1, 0x1F, .. first.WrittenSpan];

        // Steady state on a pooled connection: the same CONNECT again is three dynamic-table indices.
        _warmEncoder = new HpackEncoder();
        _warmEncoder.Encode(_connect, new ArrayBufferWriter<byte>());
        var again = new ArrayBufferWriter<byte>();
        _warmEncoder.Encode(_connect, again);
        _indexedBlock = again.WrittenSpan.ToArray();
        if (_indexedBlock.Length != 3)
            throw new InvalidOperationException($"expected a fully indexed block, got {Convert.ToHexString(_indexedBlock)}");

        var status = new ArrayBufferWriter<byte>();
        new HpackEncoder().Encode(HboneHeaders.Status(200), status);
        _status200Block = status.WrittenSpan.ToArray();

        _statelessDecoder = new HpackDecoder();
        _resettingDecoder = new HpackDecoder();
        _warmDecoder = new HpackDecoder();
        _warmDecoder.Decode(first.WrittenSpan, _decoded);
        _churnEncoder = new HpackEncoder();

        Check(_statelessDecoder, _staticHuffmanBlock, _connect);
        Check(_resettingDecoder, _firstOnConnectionBlock, _connect);
        Check(_resettingDecoder, _firstOnConnectionBlock, _connect);
        Check(_warmDecoder, _indexedBlock, _connect);
        Check(_statelessDecoder, _status200Block, HboneHeaders.Status(200));
    }

    private void Check(HpackDecoder decoder, byte[] block, HeaderField[] expected)
    {
        _decoded.Clear();
        decoder.Decode(block, _decoded);
        if (!_decoded.SequenceEqual(expected))
            throw new InvalidOperationException("block does not decode to the expected headers: " + string.Join(", ", _decoded));
    }

    private static byte[] EncodeWithoutIndexing(HeaderField[] headers)
    {
        var bytes = new List<byte>();
        Span<byte> scratch = stackalloc byte[512];
        foreach (var h in headers)
        {
            int nameIndex = StaticTable.FindName(h.Name);
            int n = IntegerCodec.Encode(nameIndex, 4, 0x00, scratch);
            bytes.AddRange(scratch[..n]);
            if (nameIndex == 0)
                AddHuffman(bytes, h.Name);
            AddHuffman(bytes, h.Value);
        }
        return [.. bytes];

        static void AddHuffman(List<byte> bytes, string s)
        {
            var raw = Encoding.Latin1.GetBytes(s);
            Span<byte> buffer = stackalloc byte[256];
            int length = Huffman.Encode(raw, buffer[8..]);
            int prefix = IntegerCodec.Encode(length, 7, 0x80, buffer);
            bytes.AddRange(buffer[..prefix]);
            bytes.AddRange(buffer.Slice(8, length));
        }
    }

    /// <summary>Static name references + Huffman values, not indexed: allocates the decoded strings.</summary>
    [Benchmark]
    public int DecodeConnectStaticHuffman()
    {
        _decoded.Clear();
        _statelessDecoder.Decode(_staticHuffmanBlock, _decoded);
        return _decoded.Count;
    }

    /// <summary>The first CONNECT on a connection as our encoder writes it (also inserts into the dynamic table).</summary>
    [Benchmark]
    public int DecodeConnectFirstOnConnection()
    {
        _decoded.Clear();
        _resettingDecoder.Decode(_firstOnConnectionBlock, _decoded);
        return _decoded.Count;
    }

    /// <summary>A repeated CONNECT on a pooled connection: three dynamic-table indices, no strings to build.</summary>
    [Benchmark]
    public int DecodeConnectIndexed()
    {
        _decoded.Clear();
        _warmDecoder.Decode(_indexedBlock, _decoded);
        return _decoded.Count;
    }

    [Benchmark]
    public int DecodeStatus200()
    {
        _decoded.Clear();
        _statelessDecoder.Decode(_status200Block, _decoded);
        return _decoded.Count;
    }

    /// <summary>The same CONNECT again on a warm encoder: all three fields found in the dynamic table.</summary>
    [Benchmark]
    public int EncodeConnectIndexed()
    {
        _output.ResetWrittenCount();
        _warmEncoder.Encode(_connect, _output);
        return _output.WrittenCount;
    }

    /// <summary>
    /// A CONNECT from a new client port each time (the daemon's real pattern): the forwarded value is a new
    /// Huffman literal inserted into the table, evicting an older one.
    /// </summary>
    [Benchmark]
    public int EncodeConnectNewClientPort()
    {
        _output.ResetWrittenCount();
        _churnEncoder.Encode(_connectByPort[_next++ & (ClientPorts - 1)], _output);
        return _output.WrittenCount;
    }

    /// <summary>Building the CONNECT header array per tunnel (HboneHeaders.Connect): strings for authority and forwarded.</summary>
    [Benchmark]
    public int BuildConnectHeaders() => ConnectHeaders(54321).Length;
}

/// <summary>Huffman decode/encode of typical header values (RFC 7541 Appendix B code).</summary>
[MemoryDiagnoser]
public class HuffmanBenchmarks
{
    private readonly byte[] _output = new byte[1024];
    private byte[] _authorityRaw = null!, _authorityHuffman = null!;
    private byte[] _forwardedRaw = null!, _forwardedHuffman = null!;
    private byte[] _userAgentRaw = null!, _userAgentHuffman = null!;

    [GlobalSetup]
    public void Setup()
    {
        (_authorityRaw, _authorityHuffman) = Prepare("10.244.1.17:8080");
        (_forwardedRaw, _forwardedHuffman) = Prepare("for=\"10.244.2.33:54321\"");
        (_userAgentRaw, _userAgentHuffman) = Prepare(
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0");
    }

    private static (byte[] Raw, byte[] Encoded) Prepare(string s)
    {
        var raw = Encoding.Latin1.GetBytes(s);
        var buffer = new byte[raw.Length * 4];
        int n = Huffman.Encode(raw, buffer);
        var encoded = buffer[..n];
        var back = new byte[raw.Length * 2];
        if (!back.AsSpan(0, Huffman.Decode(encoded, back)).SequenceEqual(raw))
            throw new InvalidOperationException("Huffman round trip failed for " + s);
        return (raw, encoded);
    }

    [Benchmark] public int DecodeAuthority16() => Huffman.Decode(_authorityHuffman, _output);
    [Benchmark] public int DecodeForwarded25() => Huffman.Decode(_forwardedHuffman, _output);
    [Benchmark] public int DecodeUserAgent120() => Huffman.Decode(_userAgentHuffman, _output);
    [Benchmark] public int EncodeAuthority16() => Huffman.Encode(_authorityRaw, _output);
    [Benchmark] public int EncodeUserAgent120() => Huffman.Encode(_userAgentRaw, _output);
}

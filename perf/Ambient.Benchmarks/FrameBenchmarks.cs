using System.Buffers;
using System.IO.Pipelines;
using Ambient.Hbone;
using Ambient.Http2;
using Ambient.Http2.Frames;
using Ambient.Http2.Hpack;
using BenchmarkDotNet.Attributes;

namespace Ambient.Benchmarks;

/// <summary>
/// Frame splitting and layout validation as the connection's read loop does it (TryReadFrame, ValidateLayout,
/// and GetContent for DATA), over a buffer holding a tunnel-like mix: per 10 frames one HEADERS (a CONNECT
/// block), eight 1 KB DATA frames and one WINDOW_UPDATE. Results are per frame.
/// </summary>
[MemoryDiagnoser]
public class FrameParsingBenchmarks
{
    public const int Frames = 1000;
    private const int DataSize = 1024;
    private const int MaxFrameSize = 1024 * 1024;

    private ReadOnlySequence<byte> _single;
    private ReadOnlySequence<byte> _multi4K;
    private ReadOnlySequence<byte> _multi64K;

    [GlobalSetup]
    public void Setup()
    {
        var writer = new ArrayBufferWriter<byte>();
        var block = new ArrayBufferWriter<byte>();
        new HpackEncoder().Encode(HpackBenchmarks.ConnectHeaders(54321), block);
        var data = new byte[DataSize];
        Random.Shared.NextBytes(data);
        for (int i = 0; i < Frames / 10; i++)
        {
            int stream = 2 * i + 1;
            FrameWriter.WriteHeaders(writer, stream, block.WrittenSpan, endStream: false, MaxFrameSize);
            for (int d = 0; d < 8; d++)
                FrameWriter.WriteData(writer, stream, data, endStream: false);
            FrameWriter.WriteWindowUpdate(writer, 0, 65536);
        }
        var bytes = writer.WrittenSpan.ToArray();
        _single = new ReadOnlySequence<byte>(bytes);
        // 4 KB segments put a header across a boundary every few frames; 64 KB is the connection's pipe buffer.
        _multi4K = Sequences.Split(bytes, 4096);
        _multi64K = Sequences.Split(bytes, 64 * 1024);
        if (Parse(_single) != Frames || Parse(_multi4K) != Frames || Parse(_multi64K) != Frames)
            throw new InvalidOperationException("frame buffer did not parse back into its frames");
    }

    private static int Parse(ReadOnlySequence<byte> buffer)
    {
        int n = 0;
        while (FrameReader.TryReadFrame(ref buffer, MaxFrameSize, out var header, out _))
        {
            FrameReader.ValidateLayout(header);
            n++;
        }
        return n;
    }

    private static long ParseWithContent(ReadOnlySequence<byte> buffer)
    {
        long bytes = 0;
        while (FrameReader.TryReadFrame(ref buffer, MaxFrameSize, out var header, out var payload))
        {
            FrameReader.ValidateLayout(header);
            if (header.Type == FrameType.Data)
                bytes += FrameReader.GetContent(header, payload).Length;
            else if (header.Type == FrameType.WindowUpdate)
                bytes += FrameReader.ReadWindowIncrement(header, payload);
        }
        return bytes;
    }

    [Benchmark(OperationsPerInvoke = Frames)]
    public int SingleSegment() => Parse(_single);

    [Benchmark(OperationsPerInvoke = Frames)]
    public int MultiSegment4K() => Parse(_multi4K);

    [Benchmark(OperationsPerInvoke = Frames)]
    public int MultiSegment64K() => Parse(_multi64K);

    /// <summary>Adds what OnData/OnWindowUpdate read from the payload (padding strip, increment).</summary>
    [Benchmark(OperationsPerInvoke = Frames)]
    public long SingleSegmentWithContent() => ParseWithContent(_single);

    [Benchmark(OperationsPerInvoke = Frames)]
    public long MultiSegment4KWithContent() => ParseWithContent(_multi4K);
}

/// <summary>Frame serialisation into a reused buffer writer (the connection writes into a pipe under its lock).</summary>
[MemoryDiagnoser]
public class FrameWriterBenchmarks
{
    private readonly ArrayBufferWriter<byte> _output = new(256 * 1024);
    private readonly Pipe _pipe = new(new PipeOptions(pauseWriterThreshold: 0, resumeWriterThreshold: 0,
        minimumSegmentSize: 64 * 1024, useSynchronizationContext: false));
    private byte[] _data1K = null!;
    private byte[] _data16K = null!;
    private byte[] _connectBlock = null!;

    [GlobalSetup]
    public void Setup()
    {
        _data1K = new byte[1024];
        _data16K = new byte[16 * 1024];
        Random.Shared.NextBytes(_data16K);
        var block = new ArrayBufferWriter<byte>();
        new HpackEncoder().Encode(HpackBenchmarks.ConnectHeaders(54321), block);
        _connectBlock = block.WrittenSpan.ToArray();
    }

    [Benchmark]
    public int WriteData1K()
    {
        _output.ResetWrittenCount();
        FrameWriter.WriteData(_output, 1, _data1K, endStream: false);
        return _output.WrittenCount;
    }

    [Benchmark]
    public int WriteData16K()
    {
        _output.ResetWrittenCount();
        FrameWriter.WriteData(_output, 1, _data16K, endStream: false);
        return _output.WrittenCount;
    }

    /// <summary>The CONNECT block (first on a connection, ~50 bytes) as one HEADERS frame.</summary>
    [Benchmark]
    public int WriteHeadersConnect()
    {
        _output.ResetWrittenCount();
        FrameWriter.WriteHeaders(_output, 1, _connectBlock, endStream: false, maxFrameSize: 16384);
        return _output.WrittenCount;
    }

    [Benchmark]
    public int WriteWindowUpdate()
    {
        _output.ResetWrittenCount();
        FrameWriter.WriteWindowUpdate(_output, 1, 1 << 20);
        return _output.WrittenCount;
    }

    /// <summary>As Http2Output does it: write into the pipe, flush (publish), and the pump's read + advance.</summary>
    [Benchmark]
    public long WriteData16KThroughPipe()
    {
        FrameWriter.WriteData(_pipe.Writer, 1, _data16K, endStream: false);
        var flush = _pipe.Writer.FlushAsync();
        if (!flush.IsCompletedSuccessfully)
            flush.AsTask().GetAwaiter().GetResult();
        if (!_pipe.Reader.TryRead(out var result))
            throw new InvalidOperationException("nothing to read");
        long n = result.Buffer.Length;
        _pipe.Reader.AdvanceTo(result.Buffer.End);
        return n;
    }
}

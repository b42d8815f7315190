using System.Buffers;

namespace Ambient.Benchmarks;

/// <summary>Builds multi-segment <see cref="ReadOnlySequence{T}"/>s, like a pipe hands out when frames straddle its buffers.</summary>
internal static class Sequences
{
    public static ReadOnlySequence<byte> Split(byte[] data, int segmentSize)
    {
        if (data.Length <= segmentSize)
            return new ReadOnlySequence<byte>(data);
        Segment? first = null, last = null;
        for (int offset = 0; offset < data.Length; offset += segmentSize)
        {
            int n = Math.Min(segmentSize, data.Length - offset);
            var memory = data.AsMemory(offset, n);
            if (first is null)
                first = last = new Segment(memory, 0);
            else
                last = last!.Append(memory);
        }
        return new ReadOnlySequence<byte>(first!, 0, last!, last!.Memory.Length);
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory, long runningIndex)
        {
            Memory = memory;
            RunningIndex = runningIndex;
        }

        public Segment Append(ReadOnlyMemory<byte> memory)
        {
            var next = new Segment(memory, RunningIndex + Memory.Length);
            Next = next;
            return next;
        }
    }
}

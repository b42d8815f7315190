using System.Buffers;

namespace Ambient.Buffers;

/// <summary>
/// Segments for the HTTP/2 pipes. A stream may hold a whole 4 MiB window in 16 KiB segments, far more arrays than
/// the shared ArrayPool keeps per size on a small machine (64 on 2 cores): the rest were allocated and dropped on
/// every window, hundreds of KiB of garbage per MB relayed (perf/README.md). A dedicated pool that keeps enough.
/// </summary>
public sealed class MeshMemoryPool : MemoryPool<byte>
{
    private const int MaxArray = 1024 * 1024;
    private readonly ArrayPool<byte> _arrays = ArrayPool<byte>.Create(MaxArray, maxArraysPerBucket: 1024);

    public static MeshMemoryPool Instance { get; } = new();

    public override int MaxBufferSize => MaxArray;

    public override IMemoryOwner<byte> Rent(int minBufferSize = -1)
        => new Lease(_arrays, _arrays.Rent(minBufferSize <= 0 ? 4096 : minBufferSize));

    protected override void Dispose(bool disposing) { }

    private sealed class Lease(ArrayPool<byte> pool, byte[] array) : IMemoryOwner<byte>
    {
        private byte[]? _array = array;

        public Memory<byte> Memory => _array ?? throw new ObjectDisposedException(nameof(Lease));

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _array, null) is { } a)
                pool.Return(a);
        }
    }
}

using System.Net.Sockets;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Ambient.NodeAgent;

/// <summary>
/// A connected Unix domain socket of type <c>SOCK_SEQPACKET</c>: every <see cref="SendAsync"/> is one packet and every
/// <see cref="ReceiveAsync"/> returns exactly one packet, with at most one file descriptor passed alongside through
/// <c>SCM_RIGHTS</c>.
/// </summary>
/// <remarks>
/// <para>
/// .NET's <see cref="Socket"/> has no ancillary-data API, so packets move with <c>sendmsg</c>/<c>recvmsg</c> on the
/// socket's descriptor, always non-blocking (<c>MSG_DONTWAIT</c>), retried on <c>EINTR</c>. Waiting never blocks a
/// thread: readability is awaited with a one-byte <c>MSG_PEEK</c> receive through the runtime's epoll engine (the peek
/// consumes nothing: neither bytes nor descriptors); writability, which with the protocol's one message in flight is
/// practically never missing, is polled with a short, growing delay.
/// </para>
/// <para>
/// Received descriptors are installed with <c>MSG_CMSG_CLOEXEC</c>. A packet carrying more than one descriptor, or
/// longer than <see cref="MaxPacketSize"/>, is consumed, its descriptors closed, and reported as an
/// <see cref="InvalidDataException"/>; the connection stays usable. End of stream (the peer closed) reads as null;
/// zero-length packets are never sent, because the receiver cannot tell them from end of stream.
/// </para>
/// <para>One receive and one send may run concurrently; two concurrent receives (or sends) are not supported.</para>
/// </remarks>
public sealed class SeqPacketConnection : IDisposable
{
    /// <summary>The default largest packet sent or accepted: 64 KiB.</summary>
    public const int DefaultMaxPacketSize = 64 * 1024;

    /// <summary>Descriptors the control buffer can take, so that a peer sending too many is detected, not truncated silently.</summary>
    private const int ControlFdCapacity = 8;

    private readonly Socket _socket;
    private readonly byte[] _peekByte = new byte[1];
    private byte[]? _receiveBuffer;
    private int _maxPacketSize = DefaultMaxPacketSize;

    /// <summary>Wraps a connected <c>AF_UNIX</c>/<c>SOCK_SEQPACKET</c> socket, taking ownership of it.</summary>
    public SeqPacketConnection(Socket socket)
    {
        ArgumentNullException.ThrowIfNull(socket);
        LinuxNative.EnsureSupported();
        if (socket.AddressFamily != AddressFamily.Unix || socket.SocketType != SocketType.Seqpacket)
            throw new ArgumentException("expected an AF_UNIX SOCK_SEQPACKET socket", nameof(socket));
        _socket = socket;
    }

    /// <summary>The largest packet this side sends or accepts (default 64 KiB).</summary>
    public int MaxPacketSize
    {
        get => _maxPacketSize;
        set
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(value, 1);
            _maxPacketSize = value;
            _receiveBuffer = null;
        }
    }

    /// <summary>The underlying socket (for socket options; do not send or receive on it directly).</summary>
    public Socket Socket => _socket;

    /// <summary>Connects to a listening socket at <paramref name="path"/>.</summary>
    public static SeqPacketConnection Connect(string path)
    {
        var socket = CreateSocket();
        try
        {
            socket.Connect(new UnixDomainSocketEndPoint(path));
            return new SeqPacketConnection(socket);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>Connects to a listening socket at <paramref name="path"/> without blocking a thread.</summary>
    public static async Task<SeqPacketConnection> ConnectAsync(string path, CancellationToken cancellationToken = default)
    {
        var socket = CreateSocket();
        try
        {
            await socket.ConnectAsync(new UnixDomainSocketEndPoint(path), cancellationToken).ConfigureAwait(false);
            return new SeqPacketConnection(socket);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>A new, unconnected <c>AF_UNIX</c>/<c>SOCK_SEQPACKET</c> socket (close-on-exec, as every .NET socket).</summary>
    internal static Socket CreateSocket()
    {
        LinuxNative.EnsureSupported();
        return new Socket(AddressFamily.Unix, SocketType.Seqpacket, ProtocolType.Unspecified);
    }

    /// <summary>
    /// Sends <paramref name="payload"/> as one packet, with <paramref name="fd"/> attached when given (the descriptor
    /// is duplicated into the peer by the kernel; the caller keeps its own).
    /// </summary>
    /// <exception cref="ArgumentException">The payload is empty or longer than <see cref="MaxPacketSize"/>.</exception>
    /// <exception cref="IOException">The connection failed (e.g. the peer closed it).</exception>
    public async ValueTask SendAsync(ReadOnlyMemory<byte> payload, SafeHandle? fd = null, CancellationToken cancellationToken = default)
    {
        if (payload.IsEmpty) throw new ArgumentException("a packet must not be empty (a zero-length packet reads as end of stream)", nameof(payload));
        if (payload.Length > _maxPacketSize)
            throw new ArgumentException($"a packet of {payload.Length} bytes exceeds the limit of {_maxPacketSize}", nameof(payload));
        if (fd is not null && (fd.IsInvalid || fd.IsClosed)) throw new ArgumentException("the file descriptor is closed or invalid", nameof(fd));

        var delay = 1;
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (TrySend(payload, fd)) return;
            // EAGAIN: the peer's receive queue is full. Wait until the socket is writable, without holding a thread.
            while (!_socket.Poll(0, SelectMode.SelectWrite))
            {
                await Task.Delay(delay, cancellationToken).ConfigureAwait(false);
                delay = Math.Min(delay * 2, 50);
            }
        }
    }

    /// <summary>
    /// Receives the next packet, or null when the peer has closed the connection. The returned descriptor, if any, is
    /// owned by the caller.
    /// </summary>
    /// <exception cref="InvalidDataException">The packet was too long or carried more than one descriptor (it was dropped; the connection is still usable).</exception>
    /// <exception cref="IOException">The connection failed.</exception>
    /// <exception cref="OperationCanceledException">Cancelled; the connection should then be disposed.</exception>
    public async ValueTask<SeqPacket?> ReceiveAsync(CancellationToken cancellationToken = default)
    {
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var result = TryReceive(out var packet);
            if (result == ReceiveResult.Packet) return packet;
            if (result == ReceiveResult.EndOfStream) return null;
            // EAGAIN: wait for readability. The peek leaves the packet (and its descriptors) in the queue.
            try
            {
                await _socket.ReceiveAsync(_peekByte.AsMemory(), SocketFlags.Peek, cancellationToken).ConfigureAwait(false);
            }
            catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionReset)
            {
                return null;
            }
            catch (SocketException e)
            {
                throw new IOException($"receiving failed: {e.Message}", e);
            }
        }
    }

    private enum ReceiveResult { Packet, EndOfStream, WouldBlock }

    private unsafe bool TrySend(ReadOnlyMemory<byte> payload, SafeHandle? fd)
    {
        var socketAdded = false;
        var fdAdded = false;
        var handle = _socket.SafeHandle;
        try
        {
            handle.DangerousAddRef(ref socketAdded);
            fd?.DangerousAddRef(ref fdAdded);
            using var pin = payload.Pin();
            var iov = new LinuxNative.IoVec { Base = pin.Pointer, Length = (nuint)payload.Length };
            var controlSpace = LinuxNative.CmsgSpace(sizeof(int));
            var control = stackalloc byte[controlSpace];
            new Span<byte>(control, controlSpace).Clear();
            var msg = new LinuxNative.MsgHdr { Iov = &iov, IovLength = 1 };
            if (fd is not null)
            {
                msg.Control = control;
                msg.ControlLength = (nuint)controlSpace;
                var header = (LinuxNative.CmsgHdr*)control;
                header->Length = (nuint)LinuxNative.CmsgLen(sizeof(int));
                header->Level = LinuxNative.SolSocket;
                header->Type = LinuxNative.ScmRights;
                *(int*)LinuxNative.CmsgData(header) = (int)fd.DangerousGetHandle();
            }
            while (true)
            {
                var sent = LinuxNative.sendmsg((int)handle.DangerousGetHandle(), &msg, LinuxNative.MsgDontWait | LinuxNative.MsgNoSignal);
                if (sent >= 0)
                {
                    // SOCK_SEQPACKET is atomic: a packet is sent whole or not at all.
                    if (sent != payload.Length) throw new IOException($"sendmsg sent {sent} of {payload.Length} bytes");
                    return true;
                }
                var errno = Marshal.GetLastPInvokeError();
                if (errno == LinuxNative.EIntr) continue;
                if (errno == LinuxNative.EAgain) return false;
                if (errno is LinuxNative.EPipe or LinuxNative.EConnReset)
                    throw new IOException("the peer closed the connection", LinuxNative.Error("sendmsg", errno));
                throw LinuxNative.Error("sendmsg", errno);
            }
        }
        finally
        {
            if (fdAdded) fd!.DangerousRelease();
            if (socketAdded) handle.DangerousRelease();
        }
    }

    private unsafe ReceiveResult TryReceive(out SeqPacket packet)
    {
        packet = default;
        // One byte more than the limit: a packet that fills the whole buffer is too long even if MSG_TRUNC is not set.
        var buffer = _receiveBuffer ??= GC.AllocateUninitializedArray<byte>(_maxPacketSize + 1);
        var controlSpace = LinuxNative.CmsgSpace(sizeof(int) * ControlFdCapacity);
        var control = stackalloc byte[controlSpace];
        var handle = _socket.SafeHandle;
        var added = false;
        nint received;
        LinuxNative.MsgHdr msg;
        try
        {
            handle.DangerousAddRef(ref added);
            fixed (byte* data = buffer)
            {
                var iov = new LinuxNative.IoVec { Base = data, Length = (nuint)buffer.Length };
                while (true)
                {
                    new Span<byte>(control, controlSpace).Clear();
                    msg = new LinuxNative.MsgHdr { Iov = &iov, IovLength = 1, Control = control, ControlLength = (nuint)controlSpace };
                    received = LinuxNative.recvmsg((int)handle.DangerousGetHandle(), &msg, LinuxNative.MsgDontWait | LinuxNative.MsgCmsgCloexec);
                    if (received >= 0) break;
                    var errno = Marshal.GetLastPInvokeError();
                    if (errno == LinuxNative.EIntr) continue;
                    if (errno == LinuxNative.EAgain) return ReceiveResult.WouldBlock;
                    if (errno == LinuxNative.EConnReset) return ReceiveResult.EndOfStream;
                    throw LinuxNative.Error("recvmsg", errno);
                }
            }
        }
        finally
        {
            if (added) handle.DangerousRelease();
        }

        // Take ownership of every descriptor that arrived before judging the packet, so none leaks.
        var fds = new List<SafeFileHandle>(1);
        for (var header = LinuxNative.CmsgFirstHdr(&msg); header is not null; header = LinuxNative.CmsgNxtHdr(&msg, header))
        {
            if (header->Level != LinuxNative.SolSocket || header->Type != LinuxNative.ScmRights) continue;
            var count = ((int)header->Length - LinuxNative.CmsgLen(0)) / sizeof(int);
            var data = (int*)LinuxNative.CmsgData(header);
            for (var i = 0; i < count; i++) fds.Add(new SafeFileHandle(data[i], ownsHandle: true));
        }

        string? problem = null;
        if ((msg.Flags & LinuxNative.MsgCtrunc) != 0)
            problem = $"the packet carried more than {ControlFdCapacity} file descriptors (at most 1 is allowed)";
        else if (fds.Count > 1)
            problem = $"the packet carried {fds.Count} file descriptors (at most 1 is allowed)";
        else if ((msg.Flags & LinuxNative.MsgTrunc) != 0 || received > _maxPacketSize)
            problem = $"a packet longer than {_maxPacketSize} bytes was dropped";
        if (problem is not null)
        {
            foreach (var fd in fds) fd.Dispose();
            throw new InvalidDataException(problem);
        }

        if (received == 0 && fds.Count == 0) return ReceiveResult.EndOfStream;
        packet = new SeqPacket(buffer.AsSpan(0, (int)received).ToArray(), fds.Count == 1 ? fds[0] : null);
        return ReceiveResult.Packet;
    }

    /// <summary>Closes the connection; pending operations fail.</summary>
    public void Dispose() => _socket.Dispose();
}

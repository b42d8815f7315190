using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Ambient.NodeAgent;

/// <summary>
/// A listening Unix domain socket of type <c>SOCK_SEQPACKET</c> bound to a path. Binding creates the parent directory
/// if needed and replaces a stale socket file left by a previous process (one nobody listens on any more); it refuses
/// to replace a socket someone still listens on, or a file that is not a socket. Disposing unlinks the path if it is
/// still the file this listener created.
/// </summary>
public sealed class SeqPacketListener : IDisposable
{
    private readonly Socket _socket;
    private readonly FileIdentity _boundFile;
    private int _disposed;

    private SeqPacketListener(string path, Socket socket, FileIdentity boundFile)
    {
        Path = path;
        _socket = socket;
        _boundFile = boundFile;
    }

    /// <summary>The absolute path the listener is bound to.</summary>
    public string Path { get; }

    /// <summary>
    /// Binds to <paramref name="path"/> and listens. The socket file gets <paramref name="mode"/> (default 0600: only
    /// the owner, root for a mesh daemon, may connect, since a connected agent decides which namespaces the daemon
    /// enters).
    /// </summary>
    /// <exception cref="IOException">Another process listens on the path, or the path is not a socket file.</exception>
    public static SeqPacketListener Bind(string path, int backlog = 16, UnixFileMode mode = UnixFileMode.UserRead | UnixFileMode.UserWrite)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        LinuxNative.EnsureSupported();
        path = System.IO.Path.GetFullPath(path);
        var directory = System.IO.Path.GetDirectoryName(path);
        if (!string.IsNullOrEmpty(directory)) Directory.CreateDirectory(directory);
        RemoveStaleSocket(path);

        var socket = SeqPacketConnection.CreateSocket();
        try
        {
            // Not UnixDomainSocketEndPoint: .NET unlinks the path of a socket bound with it when the socket is disposed,
            // even if another process has taken the path over since. Dispose below removes it only if it is still ours.
            socket.Bind(new UnixPathEndPoint(path));
            if (OperatingSystem.IsLinux()) File.SetUnixFileMode(path, mode);
            socket.Listen(backlog);
            return new SeqPacketListener(path, socket, FileIdentity.Of(path));
        }
        catch (SocketException e)
        {
            socket.Dispose();
            throw new IOException($"cannot listen on {path}: {e.Message}", e);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>Waits for the next connection.</summary>
    public async Task<SeqPacketConnection> AcceptAsync(CancellationToken cancellationToken = default)
    {
        var socket = await _socket.AcceptAsync(cancellationToken).ConfigureAwait(false);
        return new SeqPacketConnection(socket);
    }

    private static void RemoveStaleSocket(string path)
    {
        ushort mode;
        try
        {
            FileIdentity.Stat(path, out mode);
        }
        catch (FileNotFoundException)
        {
            return;
        }
        if ((mode & LinuxNative.SIfMt) != LinuxNative.SIfSock)
            throw new IOException($"{path} exists and is not a socket; refusing to replace it");

        bool listening;
        using (var probe = SeqPacketConnection.CreateSocket())
        {
            // Non-blocking, so that a live listener with a full backlog answers EAGAIN instead of stalling the probe.
            probe.Blocking = false;
            try
            {
                probe.Connect(new UnixDomainSocketEndPoint(path));
                listening = true;
            }
            catch (SocketException e) when (e.SocketErrorCode is SocketError.WouldBlock or SocketError.InProgress)
            {
                listening = true;
            }
            catch (SocketException e) when (e.SocketErrorCode is SocketError.ConnectionRefused or SocketError.ProtocolType or SocketError.AddressNotAvailable)
            {
                listening = false; // nobody accepts there (or it is a socket of another type): a leftover of a dead process
            }
            catch (SocketException e)
            {
                throw new IOException($"cannot check whether {path} is in use: {e.Message}", e);
            }
        }
        if (listening) throw new IOException($"another process is listening on {path}");
        File.Delete(path);
    }

    /// <summary>Stops listening and removes the socket file (unless another process has replaced it meanwhile).</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        _socket.Dispose();
        try
        {
            if (FileIdentity.Of(Path) == _boundFile) File.Delete(Path);
        }
        catch (IOException)
        {
            // Already gone, or not ours to remove.
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}

/// <summary>
/// A pathname <c>AF_UNIX</c> address. Unlike <see cref="UnixDomainSocketEndPoint"/>, a socket bound to it does not
/// delete the file when disposed, which leaves the decision to <see cref="SeqPacketListener.Dispose"/>.
/// </summary>
internal sealed class UnixPathEndPoint : EndPoint
{
    private const int SunPathOffset = 2;
    private const int SunPathSize = 108;

    public UnixPathEndPoint(string path)
    {
        if (Encoding.UTF8.GetByteCount(path) >= SunPathSize)
            throw new ArgumentException($"the socket path {path} is longer than {SunPathSize - 1} bytes", nameof(path));
        Path = path;
    }

    public string Path { get; }

    public override AddressFamily AddressFamily => AddressFamily.Unix;

    public override SocketAddress Serialize()
    {
        var bytes = Encoding.UTF8.GetBytes(Path);
        var address = new SocketAddress(AddressFamily.Unix, SunPathOffset + bytes.Length + 1);
        for (var i = 0; i < bytes.Length; i++) address[SunPathOffset + i] = bytes[i];
        address[SunPathOffset + bytes.Length] = 0;
        return address;
    }

    public override EndPoint Create(SocketAddress socketAddress)
    {
        var bytes = new byte[Math.Max(0, socketAddress.Size - SunPathOffset)];
        for (var i = 0; i < bytes.Length; i++) bytes[i] = socketAddress[SunPathOffset + i];
        var end = Array.IndexOf(bytes, (byte)0);
        return new UnixPathEndPoint(Encoding.UTF8.GetString(bytes, 0, end < 0 ? bytes.Length : end));
    }

    public override string ToString() => Path;
}

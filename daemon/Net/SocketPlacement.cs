using System.Net;
using System.Net.Sockets;

namespace Ambient.Daemon.Net;

/// <summary>
/// Where a workload's sockets live: the host network (local mode) or its pod's network namespace (in-pod mode,
/// where upstream sockets also carry the mark the pod's redirect rules let through).
/// </summary>
public abstract class SocketPlacement
{
    public static SocketPlacement Host { get; } = new HostPlacement();

    /// <summary>A TCP socket bound to <paramref name="endpoint"/> and listening.</summary>
    public abstract Socket CreateListener(IPEndPoint endpoint);

    /// <summary>A TCP socket to connect with.</summary>
    public abstract Socket CreateUpstream(AddressFamily family);

    /// <summary>The address listeners bind: the workload's own on the host, any address inside a pod.</summary>
    public virtual IPAddress ListenAddress(IPAddress workloadAddress) => workloadAddress;

    /// <summary>
    /// The source address of the workload's HBONE connections: its own, in a pod and on the host alike (where its
    /// listeners are bound to it, so it is local), so the destination sees which workload dialled.
    /// </summary>
    public virtual IPAddress? SourceAddress(IPAddress workloadAddress) => workloadAddress;

    protected static Socket Listen(IPEndPoint endpoint)
    {
        var socket = new Socket(endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
            socket.Bind(endpoint);
            socket.Listen(1024);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    private sealed class HostPlacement : SocketPlacement
    {
        public override Socket CreateListener(IPEndPoint endpoint) => Listen(endpoint);
        public override Socket CreateUpstream(AddressFamily family) => new(family, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
    }
}

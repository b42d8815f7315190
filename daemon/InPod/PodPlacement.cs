using System.Net;
using System.Net.Sockets;
using Ambient.Daemon.Net;
using Microsoft.Win32.SafeHandles;

namespace Ambient.Daemon.InPod;

/// <summary>
/// Sockets of one enrolled pod: listeners bound inside its network namespace on every address, upstream
/// sockets created there too and marked so the pod's redirect rules let them pass (DESIGN.md §4).
/// </summary>
public sealed class PodPlacement(NetnsRunner runner, SafeFileHandle netns) : SocketPlacement, IDisposable
{
    public const int DaemonMark = 0x539;
    private const int SolSocket = 1;
    private const int SoMark = 36;

    public SafeFileHandle Netns { get; } = netns;

    public override Socket CreateListener(IPEndPoint endpoint) => runner.Run(Netns, () => Listen(endpoint));

    public override Socket CreateUpstream(AddressFamily family) => runner.Run(Netns, () =>
    {
        var socket = new Socket(family, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        socket.SetRawSocketOption(SolSocket, SoMark, BitConverter.GetBytes(DaemonMark));
        return socket;
    });

    public override IPAddress ListenAddress(IPAddress workloadAddress)
        => workloadAddress.AddressFamily == AddressFamily.InterNetworkV6 ? IPAddress.IPv6Any : IPAddress.Any;


    public void Dispose() => Netns.Dispose();
}

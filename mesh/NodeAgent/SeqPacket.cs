using Microsoft.Win32.SafeHandles;

namespace Ambient.NodeAgent;

/// <summary>
/// One received packet: its bytes and the file descriptor that came with it (<c>SCM_RIGHTS</c>), if any. The
/// descriptor is owned by the receiver (close-on-exec is set): dispose it, or hand it on.
/// </summary>
public readonly record struct SeqPacket(byte[] Payload, SafeFileHandle? Fd);

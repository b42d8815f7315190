using System.Runtime.InteropServices;

namespace Ambient.NodeAgent;

/// <summary>
/// The few libc calls .NET has no API for: <c>sendmsg</c>/<c>recvmsg</c> with <c>SCM_RIGHTS</c> ancillary data,
/// <c>fcntl(F_DUPFD_CLOEXEC)</c> and <c>statx</c>. Struct layouts are those of Linux on 64-bit targets (x86_64 and
/// arm64 share them: LP64, glibc/musl generic ABI); <see cref="EnsureSupported"/> refuses anything else.
/// </summary>
internal static unsafe partial class LinuxNative
{
    private const string Libc = "libc";

    public const int SolSocket = 1;
    public const int ScmRights = 1;

    public const int MsgCtrunc = 0x8;
    public const int MsgTrunc = 0x20;
    public const int MsgDontWait = 0x40;
    public const int MsgNoSignal = 0x4000;
    public const int MsgCmsgCloexec = 0x40000000;

    public const int FGetFd = 1;
    public const int FdCloexec = 1;
    public const int FDupFdCloexec = 1030;

    public const int AtFdCwd = -100;
    public const int AtEmptyPath = 0x1000;
    public const uint StatxType = 0x1;
    public const uint StatxIno = 0x100;
    public const ushort SIfMt = 0xF000;
    public const ushort SIfSock = 0xC000;

    public const int EIntr = 4;
    public const int EAgain = 11; // == EWOULDBLOCK on Linux
    public const int EPipe = 32;
    public const int EConnReset = 104;

    /// <summary>struct iovec.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct IoVec
    {
        public void* Base;
        public nuint Length;
    }

    /// <summary>struct msghdr (56 bytes on LP64: the int fields are followed by 4 bytes of padding).</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct MsgHdr
    {
        public void* Name;
        public uint NameLength;
        public IoVec* Iov;
        public nuint IovLength;
        public void* Control;
        public nuint ControlLength;
        public int Flags;
    }

    /// <summary>struct cmsghdr header (16 bytes on LP64); the data follows, aligned to <c>sizeof(size_t)</c>.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct CmsgHdr
    {
        public nuint Length;
        public int Level;
        public int Type;
    }

    /// <summary>The leading fields of struct statx (the full struct is 256 bytes; the layout is the same on every architecture).</summary>
    [StructLayout(LayoutKind.Explicit, Size = 256)]
    public struct Statx
    {
        [FieldOffset(0)] public uint Mask;
        [FieldOffset(28)] public ushort Mode;
        [FieldOffset(32)] public ulong Ino;
        [FieldOffset(136)] public uint DevMajor;
        [FieldOffset(140)] public uint DevMinor;
    }

    /// <summary>CMSG_ALIGN: round up to <c>sizeof(size_t)</c>.</summary>
    public static int CmsgAlign(int length) => (length + sizeof(nuint) - 1) & ~(sizeof(nuint) - 1);

    /// <summary>CMSG_LEN: header plus <paramref name="dataLength"/> bytes, the value of <c>cmsg_len</c>.</summary>
    public static int CmsgLen(int dataLength) => CmsgAlign(sizeof(CmsgHdr)) + dataLength;

    /// <summary>CMSG_SPACE: bytes a control message with <paramref name="dataLength"/> bytes of data occupies in the buffer.</summary>
    public static int CmsgSpace(int dataLength) => CmsgAlign(sizeof(CmsgHdr)) + CmsgAlign(dataLength);

    /// <summary>CMSG_DATA.</summary>
    public static byte* CmsgData(CmsgHdr* header) => (byte*)header + CmsgAlign(sizeof(CmsgHdr));

    /// <summary>CMSG_FIRSTHDR.</summary>
    public static CmsgHdr* CmsgFirstHdr(MsgHdr* msg) =>
        msg->ControlLength >= (nuint)sizeof(CmsgHdr) ? (CmsgHdr*)msg->Control : null;

    /// <summary>CMSG_NXTHDR (glibc semantics: null when the next header would not fit in the control buffer).</summary>
    public static CmsgHdr* CmsgNxtHdr(MsgHdr* msg, CmsgHdr* current)
    {
        if (current->Length < (nuint)sizeof(CmsgHdr)) return null;
        var next = (CmsgHdr*)((byte*)current + CmsgAlign((int)current->Length));
        var end = (byte*)msg->Control + msg->ControlLength;
        if ((byte*)next + sizeof(CmsgHdr) > end || (byte*)next + CmsgAlign((int)next->Length) > end) return null;
        return next;
    }

    public static void EnsureSupported()
    {
        if (!OperatingSystem.IsLinux() || IntPtr.Size != 8)
            throw new PlatformNotSupportedException("the node agent protocol needs Linux on a 64-bit architecture (SCM_RIGHTS over SOCK_SEQPACKET)");
    }

    /// <summary>An exception for a failed call, with the errno text (e.g. "sendmsg failed: Broken pipe (errno 32)").</summary>
    public static IOException Error(string call, int errno) =>
        new($"{call} failed: {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno})", errno);

    /// <summary>A new close-on-exec descriptor for the file <paramref name="handle"/> refers to, owned by the caller.</summary>
    public static Microsoft.Win32.SafeHandles.SafeFileHandle Duplicate(SafeHandle handle)
    {
        ArgumentNullException.ThrowIfNull(handle);
        var added = false;
        try
        {
            handle.DangerousAddRef(ref added);
            var fd = fcntl((int)handle.DangerousGetHandle(), FDupFdCloexec, 0);
            if (fd < 0) throw Error("fcntl(F_DUPFD_CLOEXEC)", Marshal.GetLastPInvokeError());
            return new Microsoft.Win32.SafeHandles.SafeFileHandle(fd, ownsHandle: true);
        }
        finally
        {
            if (added) handle.DangerousRelease();
        }
    }

    [LibraryImport(Libc, SetLastError = true)]
    public static partial nint sendmsg(int fd, MsgHdr* msg, int flags);

    [LibraryImport(Libc, SetLastError = true)]
    public static partial nint recvmsg(int fd, MsgHdr* msg, int flags);

    [LibraryImport(Libc, SetLastError = true)]
    public static partial int close(int fd);

    /// <summary>fcntl with an int argument (F_GETFD, F_DUPFD_CLOEXEC).</summary>
    [LibraryImport(Libc, SetLastError = true)]
    public static partial int fcntl(int fd, int cmd, int arg);

    [LibraryImport(Libc, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int statx(int dirfd, string path, int flags, uint mask, Statx* buffer);
}

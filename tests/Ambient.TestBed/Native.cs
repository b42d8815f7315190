using System.Runtime.InteropServices;

namespace Ambient.TestBed;

/// <summary>The few libc calls the test bed needs (Linux only).</summary>
internal static partial class Native
{
    public const int CLONE_NEWNET = 0x40000000;
    public const int AF_INET = 2, AF_INET6 = 10;
    public const int SOCK_STREAM = 1, SOCK_DGRAM = 2, SOCK_CLOEXEC = 0x80000;
    public const int IPPROTO_TCP = 6, IPPROTO_UDP = 17;
    public const int MNT_DETACH = 2;
    public const int EINVAL = 22, ENOENT = 2, ESRCH = 3, EWOULDBLOCK = 11;
    public const int SIGKILL = 9, SIGTERM = 15;
    public const int O_RDWR = 2, O_CREAT = 0x40, O_CLOEXEC = 0x80000;
    public const int LOCK_EX = 2, LOCK_NB = 4;

    [LibraryImport("libc", SetLastError = true)]
    public static partial int setns(int fd, int nstype);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int socket(int domain, int type, int protocol);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int umount2(string target, int flags);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int kill(int pid, int sig);

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int open(string path, int flags, int mode);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int flock(int fd, int operation);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int close(int fd);

    public static string LastError() => Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError());
}

using System.Runtime.InteropServices;

namespace Ambient.NodeAgent;

/// <summary>
/// The identity of a file: device and inode number (<c>statx</c>). Two descriptors refer to the same file, or the
/// same network namespace (nsfs inode), exactly when their identities are equal: a daemon can tell whether a
/// <c>keep</c> during a snapshot replay names the namespace it already has.
/// </summary>
public readonly record struct FileIdentity(uint DeviceMajor, uint DeviceMinor, ulong Inode)
{
    /// <summary>The identity of the file an open descriptor refers to.</summary>
    public static unsafe FileIdentity Of(SafeHandle handle)
    {
        ArgumentNullException.ThrowIfNull(handle);
        LinuxNative.EnsureSupported();
        var added = false;
        try
        {
            handle.DangerousAddRef(ref added);
            LinuxNative.Statx buffer;
            if (LinuxNative.statx((int)handle.DangerousGetHandle(), "", LinuxNative.AtEmptyPath, LinuxNative.StatxIno, &buffer) != 0)
                throw LinuxNative.Error("statx", Marshal.GetLastPInvokeError());
            return new FileIdentity(buffer.DevMajor, buffer.DevMinor, buffer.Ino);
        }
        finally
        {
            if (added) handle.DangerousRelease();
        }
    }

    /// <summary>The identity of the file at <paramref name="path"/> (symbolic links followed).</summary>
    public static FileIdentity Of(string path) => Stat(path, out _);

    internal static unsafe FileIdentity Stat(string path, out ushort mode)
    {
        ArgumentNullException.ThrowIfNull(path);
        LinuxNative.EnsureSupported();
        LinuxNative.Statx buffer;
        if (LinuxNative.statx(LinuxNative.AtFdCwd, path, 0, LinuxNative.StatxType | LinuxNative.StatxIno, &buffer) != 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            if (errno == 2) throw new FileNotFoundException($"{path} does not exist", path);
            throw LinuxNative.Error($"statx {path}", errno);
        }
        mode = buffer.Mode;
        return new FileIdentity(buffer.DevMajor, buffer.DevMinor, buffer.Ino);
    }

    public override string ToString() => $"{DeviceMajor}:{DeviceMinor}/{Inode}";
}

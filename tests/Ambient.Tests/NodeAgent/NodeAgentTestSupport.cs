using System.Net;
using System.Runtime.InteropServices;
using System.Threading.Channels;
using Ambient.NodeAgent;
using Microsoft.Win32.SafeHandles;

namespace Ambient.Tests.NodeAgent;

/// <summary>A unique socket path in a fresh temporary directory, removed on dispose.</summary>
internal sealed class TempSocketPath : IDisposable
{
    public TempSocketPath()
    {
        Directory = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "amb-zds-" + Guid.NewGuid().ToString("N")[..10]);
        Path = System.IO.Path.Combine(Directory, "daemon.sock");
    }

    public string Directory { get; }

    public string Path { get; }

    public void Dispose()
    {
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

/// <summary>One call the daemon handler saw.</summary>
internal sealed record HandlerCall(string Kind, PodInfo? Pod = null, string? Uid = null, FileIdentity? Netns = null, IReadOnlySet<string>? Snapshot = null);

/// <summary>An <see cref="INodeAgentHandler"/> that records every call, in order, and answers as told.</summary>
internal sealed class RecordingHandler : INodeAgentHandler, IDisposable
{
    private readonly Channel<HandlerCall> _calls = Channel.CreateUnbounded<HandlerCall>();
    private readonly Lock _lock = new();
    private readonly Dictionary<string, SafeFileHandle> _netns = [];

    /// <summary>The answer to an add or keep (default: success).</summary>
    public Func<PodInfo, bool, Task<string?>> OnAdd { get; set; } = (_, _) => Task.FromResult<string?>(null);

    public Func<string, Task<string?>> OnDelete { get; set; } = _ => Task.FromResult<string?>(null);

    public async Task<string?> AddAsync(PodInfo pod, SafeFileHandle netns, bool keep)
    {
        var identity = FileIdentity.Of(netns);
        lock (_lock)
        {
            if (_netns.Remove(pod.Uid, out var old)) old.Dispose();
            _netns[pod.Uid] = netns;
        }
        _calls.Writer.TryWrite(new HandlerCall(keep ? "keep" : "add", pod, pod.Uid, identity));
        return await OnAdd(pod, keep);
    }

    public Task<string?> DeleteAsync(string uid)
    {
        lock (_lock)
        {
            if (_netns.Remove(uid, out var old)) old.Dispose();
        }
        _calls.Writer.TryWrite(new HandlerCall("delete", Uid: uid));
        return OnDelete(uid);
    }

    public Task SnapshotCompleteAsync(IReadOnlySet<string> uidsInSnapshot)
    {
        _calls.Writer.TryWrite(new HandlerCall("snapshot", Snapshot: uidsInSnapshot));
        return Task.CompletedTask;
    }

    /// <summary>The namespace descriptor last received for a pod (still owned by the handler).</summary>
    public SafeFileHandle NetnsOf(string uid)
    {
        lock (_lock) return _netns[uid];
    }

    public async Task<HandlerCall> NextAsync(double seconds = 5)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(seconds));
        try
        {
            return await _calls.Reader.ReadAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"the handler saw no call within {seconds} s");
        }
    }

    /// <summary>Asserts that no call arrives within <paramref name="milliseconds"/>.</summary>
    public async Task AssertQuietAsync(int milliseconds = 200)
    {
        await Task.Delay(milliseconds);
        Assert.False(_calls.Reader.TryRead(out var call), $"unexpected handler call {call}");
    }

    public void Dispose()
    {
        lock (_lock)
        {
            foreach (var handle in _netns.Values) handle.Dispose();
            _netns.Clear();
        }
    }
}

internal static partial class TestNative
{
    public const int CloneNewNet = 0x40000000;

    [LibraryImport("libc", SetLastError = true)]
    public static partial int setns(int fd, int nstype);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int fcntl(int fd, int cmd, int arg);

    /// <summary>Sends one packet with any number of descriptors attached (the production API allows at most one).</summary>
    public static unsafe void SendWithFds(SeqPacketConnection connection, byte[] payload, params SafeHandle[] fds)
    {
        var space = LinuxNative.CmsgSpace(sizeof(int) * fds.Length);
        var control = stackalloc byte[space];
        new Span<byte>(control, space).Clear();
        fixed (byte* data = payload)
        {
            var iov = new LinuxNative.IoVec { Base = data, Length = (nuint)payload.Length };
            var msg = new LinuxNative.MsgHdr { Iov = &iov, IovLength = 1, Control = control, ControlLength = (nuint)space };
            var header = LinuxNative.CmsgFirstHdr(&msg);
            header->Length = (nuint)LinuxNative.CmsgLen(sizeof(int) * fds.Length);
            header->Level = LinuxNative.SolSocket;
            header->Type = LinuxNative.ScmRights;
            var slots = (int*)LinuxNative.CmsgData(header);
            for (var i = 0; i < fds.Length; i++) slots[i] = (int)fds[i].DangerousGetHandle();
            var sent = LinuxNative.sendmsg((int)connection.Socket.SafeHandle.DangerousGetHandle(), &msg, LinuxNative.MsgNoSignal);
            if (sent != payload.Length) throw new IOException($"sendmsg returned {sent}, errno {Marshal.GetLastPInvokeError()}");
        }
    }

    public static bool IsCloseOnExec(SafeHandle handle)
    {
        var flags = fcntl((int)handle.DangerousGetHandle(), LinuxNative.FGetFd, 0);
        Assert.True(flags >= 0, $"fcntl(F_GETFD) failed: errno {Marshal.GetLastPInvokeError()}");
        return (flags & LinuxNative.FdCloexec) != 0;
    }
}

internal static class Pods
{
    public static PodInfo Make(string uid, params string[] ips) =>
        new(uid, "pod-" + uid, "default", "sa-" + uid, ips.Select(IPAddress.Parse).ToArray());
}

/// <summary>An optional descriptor argument (lets call sites pass <c>new(handle)</c> or nothing).</summary>
internal readonly record struct SafeHandleOrNull(System.Runtime.InteropServices.SafeHandle? Handle);

internal static class LetExtension
{
    public static TResult Let<T, TResult>(this T value, Func<T, TResult> map) => map(value);
}

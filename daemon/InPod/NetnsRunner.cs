using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Ambient.Daemon.InPod;

/// <summary>
/// Runs small pieces of work (creating sockets) inside a pod's network namespace on one dedicated thread that
/// enters the namespace and returns to the host's after each item. A socket keeps the namespace it was created
/// in, so everything after creation — accept, connect, I/O — runs on ordinary async code. Never a thread-pool
/// thread: a pool thread left in a pod would put unrelated sockets there (DESIGN.md §8).
/// </summary>
public sealed partial class NetnsRunner : IDisposable
{
    private const int CloneNewNet = 0x40000000;
    private readonly BlockingCollection<Action> _work = new();
    private readonly SafeFileHandle _host;
    private readonly Thread _thread;

    public NetnsRunner()
    {
        _host = File.OpenHandle("/proc/self/ns/net");
        _thread = new Thread(Run) { IsBackground = true, Name = "netns-runner" };
        _thread.Start();
    }

    /// <summary>Runs <paramref name="work"/> inside the namespace <paramref name="netns"/> and returns its result.</summary>
    public Task<T> RunAsync<T>(SafeFileHandle netns, Func<T> work)
    {
        var done = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        _work.Add(() =>
        {
            if (setns((int)netns.DangerousGetHandle(), CloneNewNet) != 0)
            {
                done.SetException(new IOException($"setns into the pod network namespace failed (errno {Marshal.GetLastPInvokeError()})"));
                return;
            }
            try { done.SetResult(work()); }
            catch (Exception e) { done.SetException(e); }
            finally
            {
                if (setns((int)_host.DangerousGetHandle(), CloneNewNet) != 0)
                    Environment.FailFast("netns-runner could not return to the host network namespace");
            }
        });
        return done.Task;
    }

    /// <summary>Synchronous form, for code that cannot await (socket factories).</summary>
    public T Run<T>(SafeFileHandle netns, Func<T> work) => RunAsync(netns, work).GetAwaiter().GetResult();

    private void Run()
    {
        foreach (var item in _work.GetConsumingEnumerable())
            item();
    }

    public void Dispose()
    {
        _work.CompleteAdding();
        _thread.Join();
        _host.Dispose();
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int setns(int fd, int nstype);
}

using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.ExceptionServices;

namespace Ambient.TestBed;

/// <summary>
/// A named Linux network namespace (/var/run/netns/NAME) of a <see cref="Cluster"/>: the network between the nodes,
/// a <see cref="Node"/> or a <see cref="Pod"/>. Runs commands and processes in it, creates sockets in it and captures
/// its traffic. Everything started here is stopped when the namespace is torn down.
/// </summary>
/// <remarks>
/// Sockets keep the namespace they were created in, whatever thread uses them later. Entering a namespace is done on
/// a dedicated short-lived thread that <c>setns</c>es in and back, never on a thread-pool thread, and the host's
/// socket engine, timer and pool threads are started in the host namespace first (DESIGN.md §8).
/// </remarks>
public class NetworkNamespace
{
    private readonly List<NetnsProcess> _processes = [];
    private readonly List<PacketCapture> _captures = [];
    private string? _netnsId;

    internal NetworkNamespace(string netnsName, string defaultInterface, Action<string>? log)
    {
        NetnsName = netnsName;
        DefaultInterface = defaultInterface;
        Log = log;
    }

    /// <summary>The namespace's name as `ip netns` knows it, e.g. <c>amb-x7k2q_pod_default_sleep</c>.</summary>
    public string NetnsName { get; }

    /// <summary>The namespace file, e.g. <c>/var/run/netns/amb-x7k2q_pod_default_sleep</c> (open it to get a netns fd).</summary>
    public string NetnsPath => Path.Combine(Tools.NetnsDirectory, NetnsName);

    /// <summary>The interface that connects this namespace to the rest (what <see cref="Capture"/> listens on by default).</summary>
    public string DefaultInterface { get; }

    /// <summary>The kernel's identity of the namespace, <c>net:[inode]</c> (what /proc/PID/ns/net links to).</summary>
    public string NetnsId => _netnsId ??= RunInNetns(() => new FileInfo("/proc/thread-self/ns/net").LinkTarget)
        ?? throw new TestBedException($"cannot read the identity of {NetnsName}");

    /// <summary>True once the namespace has been deleted.</summary>
    public bool IsDeleted { get; private set; }

    internal Action<string>? Log { get; }

    /// <summary>Runs a shell command line (<c>/bin/sh -c</c>) in the namespace and returns its exit code and output.</summary>
    /// <remarks>The command must finish; start long-running programs with <see cref="Start"/>.</remarks>
    public ExecResult Exec(string commandLine, TimeSpan? timeout = null) =>
        Exec("/bin/sh", ["-c", commandLine], timeout);

    /// <summary>Runs a program with arguments (no shell) in the namespace and returns its exit code and output.</summary>
    public ExecResult Exec(string fileName, IEnumerable<string> args, TimeSpan? timeout = null)
    {
        ThrowIfDeleted();
        return Tools.Run(Tools.IpPath, ["netns", "exec", NetnsName, fileName, .. args], timeout: timeout);
    }

    /// <summary>Runs a shell command line in the namespace and returns its stdout; throws if it exits non-zero.</summary>
    public string ExecOrThrow(string commandLine, TimeSpan? timeout = null) =>
        Exec(commandLine, timeout).ThrowIfFailed($"'{commandLine}' in {NetnsName}").StdOut;

    /// <summary>
    /// Starts a long-running program in the namespace (via <c>ip netns exec</c>, so the returned process is the program
    /// itself). Its stdout and stderr are collected in <see cref="NetnsProcess.Output"/> and passed line by line to
    /// <paramref name="onOutput"/>. It is stopped (SIGTERM, then SIGKILL) when the namespace is torn down.
    /// </summary>
    public NetnsProcess Start(string fileName, IEnumerable<string> args, Action<ProcessStartInfo>? configure = null, Action<string>? onOutput = null)
    {
        ThrowIfDeleted();
        var psi = new ProcessStartInfo(Tools.IpPath)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in (string[])["netns", "exec", NetnsName, fileName, .. args]) psi.ArgumentList.Add(a);
        configure?.Invoke(psi);
        Log?.Invoke($"start in {NetnsName}: {fileName} {string.Join(' ', args)}");
        var process = new NetnsProcess(this, psi, onOutput);
        lock (_processes)
        {
            _processes.RemoveAll(p => p.HasExited);
            _processes.Add(process);
        }
        return process;
    }

    /// <summary>
    /// Creates a socket in the namespace (TCP by default) and optionally binds it (with SO_REUSEADDR for TCP) and
    /// listens. Use it from any thread afterwards: it stays in this namespace.
    /// </summary>
    public Socket CreateSocket(IPEndPoint? bind = null, bool listen = false, ProtocolType protocol = ProtocolType.Tcp, int backlog = 512)
    {
        int domain = bind?.AddressFamily == AddressFamily.InterNetworkV6 ? Native.AF_INET6 : Native.AF_INET;
        (int type, int proto) = protocol switch
        {
            ProtocolType.Tcp => (Native.SOCK_STREAM, Native.IPPROTO_TCP),
            ProtocolType.Udp => (Native.SOCK_DGRAM, Native.IPPROTO_UDP),
            _ => throw new ArgumentOutOfRangeException(nameof(protocol), "TCP or UDP"),
        };
        if (listen && (bind is null || protocol != ProtocolType.Tcp))
            throw new ArgumentException("listen needs a TCP socket and a bind address", nameof(listen));
        // Only socket(2) runs inside the namespace; bind/listen use the socket's namespace from any thread.
        int fd = RunInNetns(() =>
        {
            int f = Native.socket(domain, type | Native.SOCK_CLOEXEC, proto);
            return f >= 0 ? f : throw new TestBedException($"socket() in {NetnsName} failed: {Native.LastError()}");
        });
        var socket = new Socket(new SafeSocketHandle(fd, ownsHandle: true));
        try
        {
            if (bind is not null)
            {
                if (protocol == ProtocolType.Tcp) socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
                socket.Bind(bind);
                if (listen) socket.Listen(backlog);
            }
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Runs <paramref name="action"/> on a dedicated thread inside the namespace and waits for it (for code that must
    /// create several sockets or read namespace-scoped /proc/sys files there).
    /// </summary>
    /// <remarks>
    /// Keep the action synchronous: threads it causes to be created (tasks, timers, async socket I/O, thread-pool
    /// work) may inherit this namespace. Sockets created in it may be used anywhere afterwards.
    /// </remarks>
    public void RunInNetns(Action action) => RunInNetns<object?>(() => { action(); return null; });

    /// <inheritdoc cref="RunInNetns(Action)"/>
    public T RunInNetns<T>(Func<T> func)
    {
        ThrowIfDeleted();
        HostWarmup.Ensure();
        T result = default!;
        ExceptionDispatchInfo? error = null;
        var path = NetnsPath;
        var thread = new Thread(() =>
        {
            try
            {
                using var home = File.OpenHandle("/proc/thread-self/ns/net");
                using var target = OpenNetns(path);
                if (Native.setns((int)target.DangerousGetHandle(), Native.CLONE_NEWNET) != 0)
                    throw new TestBedException($"setns into {NetnsName} failed: {Native.LastError()}");
                try { result = func(); }
                finally
                {
                    // This thread ends right after; returning only matters for anything the action left behind.
                    Native.setns((int)home.DangerousGetHandle(), Native.CLONE_NEWNET);
                }
            }
            catch (Exception e) { error = ExceptionDispatchInfo.Capture(e); }
        })
        { IsBackground = true, Name = "netns " + NetnsName };
        thread.Start();
        thread.Join();
        error?.Throw();
        return result;
    }

    /// <summary>
    /// Starts tcpdump on an interface of this namespace (<see cref="DefaultInterface"/> unless given) with an optional
    /// pcap filter, and returns once it is capturing. <see cref="PacketCapture.Stop"/> returns the packets.
    /// The pcap file is temporary unless <paramref name="pcapPath"/> is given.
    /// </summary>
    /// <exception cref="ToolMissingException">tcpdump is not installed.</exception>
    public PacketCapture Capture(string? filter = null, string? interfaceName = null, string? pcapPath = null)
    {
        ThrowIfDeleted();
        var capture = PacketCapture.Start(this, interfaceName ?? DefaultInterface, filter, pcapPath);
        lock (_captures) _captures.Add(capture);
        return capture;
    }

    /// <summary>Ids of the processes currently running in this namespace (like <c>ip netns pids</c>).</summary>
    public IReadOnlyList<int> ProcessIds() => Tools.PidsIn(new HashSet<string> { NetnsId });

    public override string ToString() => NetnsName;

    internal IEnumerable<NetnsProcess> TrackedProcesses() { lock (_processes) return _processes.ToArray(); }

    /// <summary>Stops captures, then tracked processes (SIGTERM, grace, SIGKILL), then any other process left in here.</summary>
    internal void StopEverything(TimeSpan grace)
    {
        PacketCapture[] captures;
        lock (_captures) { captures = _captures.ToArray(); _captures.Clear(); }
        foreach (var c in captures) c.Dispose();
        NetnsProcess.StopAll(TrackedProcesses(), grace);
        lock (_processes) _processes.Clear();
    }

    /// <summary>Deletes the namespace file; the kernel frees the namespace (and its interfaces) once nothing pins it.</summary>
    internal void DeleteNetns()
    {
        if (IsDeleted) return;
        IsDeleted = true;
        Log?.Invoke($"delete netns {NetnsName}");
        Tools.DeleteNetns(NetnsName);
    }

    /// <summary>Best-effort identity (no throw), for tear-down.</summary>
    internal string? TryGetNetnsId()
    {
        if (_netnsId is not null) return _netnsId;
        try { return IsDeleted || !File.Exists(NetnsPath) ? null : NetnsId; } catch (Exception) { return null; }
    }

    internal void WriteSysctl(string path, string value, bool optional = false)
    {
        RunInNetns(() =>
        {
            var file = Path.Combine("/proc/sys", path.Replace('.', '/'));
            if (optional && !File.Exists(file)) return;
            File.WriteAllText(file, value);
        });
    }

    private void ThrowIfDeleted()
    {
        if (IsDeleted) throw new ObjectDisposedException(NetnsName, $"network namespace {NetnsName} has been deleted");
    }

    private static Microsoft.Win32.SafeHandles.SafeFileHandle OpenNetns(string path)
    {
        try { return File.OpenHandle(path); }
        catch (FileNotFoundException e) { throw new TestBedException($"network namespace {path} does not exist", e); }
    }
}

/// <summary>
/// Starts the runtime's socket engine, timer thread and a pool worker from the host namespace before the first
/// <c>setns</c>, so that none of them (or threads they later create) is born inside a pod (DESIGN.md §8).
/// </summary>
internal static class HostWarmup
{
    private static volatile bool _done;
    private static readonly Lock Gate = new();

    public static void Ensure()
    {
        if (_done) return;
        lock (Gate)
        {
            if (_done) return;
            try
            {
                using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
                listener.Listen(1);
                var pending = listener.AcceptAsync(); // registers with the epoll engine: its threads start now, here
                listener.Dispose();
                try { pending.Wait(1000); } catch (AggregateException) { }
            }
            catch (SocketException) { } // no loopback in the host namespace: nothing to protect
            using (var fired = new ManualResetEventSlim())
            using (new Timer(_ => fired.Set(), null, 1, Timeout.Infinite))
                fired.Wait(1000);
            Task.Run(() => { }).Wait();
            _done = true;
        }
    }
}

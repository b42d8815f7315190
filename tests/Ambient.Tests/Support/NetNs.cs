using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace Ambient.Tests.Support;

/// <summary>
/// A network namespace made by the test (root only), deleted on dispose. Sockets are created inside it from a
/// dedicated thread that enters the namespace and leaves again (a socket keeps the namespace it was born in),
/// never from a thread-pool thread (DESIGN.md §8).
/// </summary>
public sealed partial class NetNs : IDisposable
{
    private const int CloneNewNet = 0x40000000;

    public NetNs()
    {
        Name = "amb-" + Guid.NewGuid().ToString("N")[..10];
        Run("ip", $"netns add {Name}");
        Exec("ip link set lo up");
    }

    public string Name { get; }

    public static bool Available => Environment.UserName == "root" && (File.Exists("/usr/sbin/ip") || File.Exists("/sbin/ip") || File.Exists("/usr/bin/ip"));

    /// <summary>Runs a command inside the namespace; throws with its stderr when it fails.</summary>
    public string Exec(string commandLine) => Run("ip", $"netns exec {Name} {commandLine}");

    /// <summary>Starts a long-running process inside the namespace.</summary>
    public Process Start(string fileName, IEnumerable<string> args)
    {
        var psi = new ProcessStartInfo("ip") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { "netns", "exec", Name, fileName }.Concat(args))
            psi.ArgumentList.Add(a);
        return Process.Start(psi)!;
    }

    /// <summary>Creates a TCP socket inside the namespace; optionally binds (and listens).</summary>
    public Socket CreateSocket(IPEndPoint? bind = null, bool listen = false)
    {
        Socket? result = null;
        Exception? error = null;
        var thread = new Thread(() =>
        {
            using var host = File.OpenHandle("/proc/self/ns/net");
            using var target = File.OpenHandle($"/var/run/netns/{Name}");
            try
            {
                if (setns(target.DangerousGetHandle().ToInt32(), CloneNewNet) != 0)
                    throw new IOException($"setns into {Name} failed: errno {Marshal.GetLastPInvokeError()}");
                var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                if (bind is not null)
                {
                    s.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
                    s.Bind(bind);
                    if (listen) s.Listen(128);
                }
                result = s;
            }
            catch (Exception e) { error = e; }
            finally
            {
                if (setns(host.DangerousGetHandle().ToInt32(), CloneNewNet) != 0)
                    Environment.FailFast("could not return to the host network namespace");
            }
        });
        thread.Start();
        thread.Join();
        return error is null ? result! : throw error;
    }

    public void Dispose()
    {
        try { Run("ip", $"netns del {Name}"); } catch (IOException) { }
    }

    public static string Run(string file, string args)
    {
        var psi = new ProcessStartInfo(file, args) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEnd();
        var stderr = p.StandardError.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0)
            throw new IOException($"{file} {args} failed ({p.ExitCode}): {stderr.Trim()}");
        return stdout;
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int setns(int fd, int nstype);
}

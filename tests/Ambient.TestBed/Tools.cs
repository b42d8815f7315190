using System.Diagnostics;
using System.Text;

namespace Ambient.TestBed;

/// <summary>Running external tools (ip, tcpdump) and small /proc and /run/netns chores.</summary>
internal static class Tools
{
    public const string NetnsDirectory = "/var/run/netns";
    private static readonly string[] ExtraPath = ["/usr/sbin", "/sbin", "/usr/bin", "/bin", "/usr/local/sbin", "/usr/local/bin"];
    private static string? _ip;

    /// <summary>Full path of a tool, or null when it is not installed.</summary>
    public static string? Which(string tool)
    {
        var dirs = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries).Concat(ExtraPath);
        foreach (var dir in dirs)
        {
            var path = Path.Combine(dir, tool);
            if (File.Exists(path)) return path;
        }
        return null;
    }

    public static string IpPath => _ip ??= Which("ip") ?? throw new ToolMissingException("ip", "install iproute2");

    /// <summary>Runs a program to completion and collects its output. Never throws on a non-zero exit code.</summary>
    public static ExecResult Run(string file, IEnumerable<string> args, string? stdin = null, TimeSpan? timeout = null)
    {
        var psi = new ProcessStartInfo(file)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi) ?? throw new TestBedException($"could not start {file}");
        var stdout = new StringBuilder();
        var stderr = new StringBuilder();
        var pumps = Task.WhenAll(Pump(p.StandardOutput, stdout), Pump(p.StandardError, stderr));
        try
        {
            if (stdin is not null) p.StandardInput.Write(stdin);
            p.StandardInput.Close();
        }
        catch (IOException) { } // the program exited without reading its input
        var limit = timeout ?? TimeSpan.FromSeconds(60);
        if (!p.WaitForExit(limit))
        {
            try { p.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
            p.WaitForExit(5000);
            throw new TimeoutException($"{file} {string.Join(' ', psi.ArgumentList)} did not finish within {limit.TotalSeconds:0.#} s; output so far: {Snapshot(stdout)} {Snapshot(stderr)}");
        }
        // A background child (`cmd &`) may keep the pipes open: take what has arrived and move on.
        pumps.Wait(TimeSpan.FromSeconds(1));
        return new ExecResult(p.ExitCode, Snapshot(stdout), Snapshot(stderr));
    }

    private static async Task Pump(StreamReader reader, StringBuilder into)
    {
        var buffer = new char[4096];
        try
        {
            int n;
            while ((n = await reader.ReadAsync(buffer).ConfigureAwait(false)) > 0)
                lock (into) into.Append(buffer, 0, n);
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException) { }
    }

    private static string Snapshot(StringBuilder sb) { lock (sb) return sb.ToString(); }

    /// <summary>Runs `ip [-n netns] -batch -` with the given lines (one `ip` command each, without the leading `ip`).</summary>
    public static void Ip(string? netns, IReadOnlyCollection<string> lines, Action<string>? log, bool force = false)
    {
        if (lines.Count == 0) return;
        var args = new List<string>();
        if (netns is not null) args.AddRange(["-n", netns]);
        if (force) args.Add("-force");
        args.AddRange(["-batch", "-"]);
        var script = string.Join('\n', lines) + "\n";
        log?.Invoke($"ip {(netns is null ? "" : $"-n {netns} ")}: {string.Join("; ", lines)}");
        var r = Run(IpPath, args, script, TimeSpan.FromSeconds(30));
        if (!r.Succeeded && !force)
            throw new TestBedException($"ip {string.Join(' ', args)} failed (exit {r.ExitCode}): {r.StdErr.Trim()}\n  commands: {string.Join("; ", lines)}");
    }

    /// <summary>Creates a named network namespace (/var/run/netns/NAME).</summary>
    public static void AddNetns(string name, Action<string>? log)
    {
        log?.Invoke($"ip netns add {name}");
        Run(IpPath, ["netns", "add", name], timeout: TimeSpan.FromSeconds(30)).ThrowIfFailed($"ip netns add {name}");
    }

    /// <summary>
    /// Deletes a named network namespace the way `ip netns delete` does (lazy unmount, then unlink), without
    /// forking, and also for a plain file left behind after a reboot (nothing mounted on it). True if it existed.
    /// </summary>
    public static bool DeleteNetns(string name)
    {
        var path = Path.Combine(NetnsDirectory, name);
        if (!File.Exists(path)) return false;
        Native.umount2(path, Native.MNT_DETACH); // EINVAL: not a mount point (stale file) — unlink anyway
        try { File.Delete(path); } catch (IOException) { }
        return true;
    }

    public static IEnumerable<string> NetnsNames() =>
        Directory.Exists(NetnsDirectory) ? Directory.EnumerateFiles(NetnsDirectory).Select(Path.GetFileName).OfType<string>() : [];

    /// <summary>Processes (not threads) whose network namespace is one of <paramref name="netnsIds"/> ("net:[inode]").</summary>
    public static List<int> PidsIn(IReadOnlySet<string> netnsIds)
    {
        var pids = new List<int>();
        if (netnsIds.Count == 0) return pids;
        int self = Environment.ProcessId;
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out int pid) || pid == self) continue;
            try
            {
                var target = new FileInfo(Path.Combine(dir, "ns", "net")).LinkTarget;
                if (target is not null && netnsIds.Contains(target)) pids.Add(pid);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { } // exited meanwhile
        }
        return pids;
    }

    /// <summary>SIGKILLs every process in the given namespaces (a daemonized child escapes any Process object).</summary>
    public static int KillAllIn(IReadOnlySet<string> netnsIds)
    {
        var pids = PidsIn(netnsIds);
        foreach (var pid in pids) Native.kill(pid, Native.SIGKILL);
        // Wait (briefly) until they are gone, so the namespaces are not pinned when we delete them.
        var deadline = Environment.TickCount64 + 3000;
        while (Environment.TickCount64 < deadline && pids.Any(p => Directory.Exists($"/proc/{p}") && !IsZombie(p)))
            Thread.Sleep(10);
        return pids.Count;
    }

    private static bool IsZombie(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            int close = stat.LastIndexOf(')');
            return close > 0 && close + 2 < stat.Length && stat[close + 2] is 'Z' or 'X';
        }
        catch (IOException) { return true; }
    }

    public static string TruncateInterfaceName(string name)
    {
        var n = name.Length <= 15 ? name : name[..15];
        return n.TrimEnd('-', '.');
    }
}

using System.Buffers.Binary;
using System.Diagnostics;
using System.Text;

namespace Ambient.TestBed;

/// <summary>
/// A running tcpdump inside a namespace, writing a pcap file. <see cref="Stop"/> ends it and returns the packets, e.g.
/// to assert that no plaintext crossed the wire between nodes.
/// </summary>
public sealed class PacketCapture : IDisposable
{
    private readonly Process _tcpdump;
    private readonly StringBuilder _stderr = new();
    private readonly string? _tempDirectory;
    private CaptureResult? _result;

    private PacketCapture(NetworkNamespace ns, string interfaceName, string? filter, string pcapPath, string? tempDirectory, Process tcpdump)
    {
        Namespace = ns;
        Interface = interfaceName;
        Filter = filter;
        PcapPath = pcapPath;
        _tempDirectory = tempDirectory;
        _tcpdump = tcpdump;
    }

    public NetworkNamespace Namespace { get; }
    public string Interface { get; }
    public string? Filter { get; }
    public string PcapPath { get; }

    internal static PacketCapture Start(NetworkNamespace ns, string interfaceName, string? filter, string? pcapPath)
    {
        var tcpdump = Tools.Which("tcpdump") ?? throw new ToolMissingException("tcpdump", "install it (apt-get install tcpdump) to capture packets");
        string? temp = null;
        if (pcapPath is null)
        {
            temp = Directory.CreateTempSubdirectory("ambient-capture-").FullName;
            pcapPath = Path.Combine(temp, $"{ns.NetnsName}-{interfaceName}.pcap");
        }
        var psi = new ProcessStartInfo(Tools.IpPath) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        // -U + --immediate-mode: every packet reaches the file at once; -Z root: keep the right to write the file.
        string[] args = ["netns", "exec", ns.NetnsName, tcpdump, "-i", interfaceName, "-nn", "-s", "0", "-U", "--immediate-mode", "-Z", "root", "-w", pcapPath];
        foreach (var a in args) psi.ArgumentList.Add(a);
        if (!string.IsNullOrWhiteSpace(filter)) psi.ArgumentList.Add(filter);
        ns.Log?.Invoke($"capture in {ns.NetnsName} on {interfaceName}: {filter}");
        var process = new Process { StartInfo = psi };
        var capture = new PacketCapture(ns, interfaceName, filter, pcapPath, temp, process);
        using var listening = new ManualResetEventSlim();
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is null) return;
            lock (capture._stderr) capture._stderr.AppendLine(e.Data);
            if (e.Data.Contains("listening on", StringComparison.Ordinal)) try { listening.Set(); } catch (ObjectDisposedException) { }
        };
        process.OutputDataReceived += (_, _) => { };
        process.Start();
        process.BeginErrorReadLine();
        process.BeginOutputReadLine();
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (!listening.Wait(20))
        {
            if (process.HasExited || DateTime.UtcNow > deadline)
            {
                capture.Kill();
                capture.DeleteTemp();
                throw new TestBedException($"tcpdump on {interfaceName} in {ns.NetnsName} did not start: {capture.Stderr.Trim()}");
            }
        }
        return capture;
    }

    /// <summary>What tcpdump printed on stderr (start-up line, final packet counts).</summary>
    public string Stderr { get { lock (_stderr) return _stderr.ToString(); } }

    /// <summary>
    /// Waits <paramref name="settle"/> (default 100 ms) for packets in flight, stops tcpdump and reads the pcap file.
    /// Calling it again returns the same result.
    /// </summary>
    public CaptureResult Stop(TimeSpan? settle = null)
    {
        if (_result is not null) return _result;
        if (!_tcpdump.HasExited)
        {
            Thread.Sleep(settle ?? TimeSpan.FromMilliseconds(100));
            Native.kill(_tcpdump.Id, Native.SIGTERM);
            if (!_tcpdump.WaitForExit(5000)) Kill();
            _tcpdump.WaitForExit(); // drains stderr (final counts)
        }
        _result = CaptureResult.Read(PcapPath);
        return _result;
    }

    /// <summary>Stops the capture and deletes the pcap file if it was a temporary one.</summary>
    public void Dispose()
    {
        try { Stop(TimeSpan.Zero); } catch (Exception e) when (e is IOException or TestBedException) { }
        _tcpdump.Dispose();
        DeleteTemp();
    }

    private void Kill()
    {
        try { _tcpdump.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
        _tcpdump.WaitForExit(5000);
    }

    private void DeleteTemp()
    {
        if (_tempDirectory is null) return;
        try { Directory.Delete(_tempDirectory, recursive: true); } catch (IOException) { }
    }
}

/// <summary>One captured frame: link-layer header included (Ethernet on veth and bridge interfaces).</summary>
public readonly record struct CapturedPacket(DateTimeOffset Timestamp, ReadOnlyMemory<byte> Data, int OriginalLength);

/// <summary>The packets of a stopped <see cref="PacketCapture"/>.</summary>
public sealed class CaptureResult
{
    private CaptureResult(string pcapPath, int linkType, IReadOnlyList<CapturedPacket> packets)
    {
        PcapPath = pcapPath;
        LinkType = linkType;
        Packets = packets;
    }

    public string PcapPath { get; }

    /// <summary>pcap link type: 1 = Ethernet, 276 = Linux cooked v2 (<c>-i any</c>).</summary>
    public int LinkType { get; }

    public IReadOnlyList<CapturedPacket> Packets { get; }

    /// <summary>True if any single packet contains the bytes (text is UTF-8 encoded).</summary>
    public bool Contains(string text) => Contains(Encoding.UTF8.GetBytes(text));

    /// <inheritdoc cref="Contains(string)"/>
    public bool Contains(ReadOnlySpan<byte> bytes)
    {
        foreach (var p in Packets)
            if (p.Data.Span.IndexOf(bytes) >= 0) return true;
        return false;
    }

    /// <summary>The capture decoded by <c>tcpdump -nn -r</c> (add e.g. "-A" or "-X" for payloads).</summary>
    public string ToText(params string[] tcpdumpArgs)
    {
        var tcpdump = Tools.Which("tcpdump") ?? throw new ToolMissingException("tcpdump", "install it to decode captures");
        return Tools.Run(tcpdump, ["-nn", "-r", PcapPath, .. tcpdumpArgs]).ThrowIfFailed($"tcpdump -r {PcapPath}").StdOut;
    }

    public override string ToString() => $"{Packets.Count} packets in {PcapPath}";

    /// <summary>Reads a classic pcap file (either byte order, micro- or nanosecond stamps); ignores a torn last record.</summary>
    internal static CaptureResult Read(string path)
    {
        var data = File.Exists(path) ? File.ReadAllBytes(path) : [];
        if (data.Length < 24) return new CaptureResult(path, 0, []);
        uint magic = BinaryPrimitives.ReadUInt32LittleEndian(data);
        (bool little, bool nanos) = magic switch
        {
            0xa1b2c3d4 => (true, false),
            0xd4c3b2a1 => (false, false),
            0xa1b23c4d => (true, true),
            0x4d3cb2a1 => (false, true),
            _ => throw new TestBedException($"{path} is not a pcap file (magic 0x{magic:x8})"),
        };
        uint U32(int offset) => little ? BinaryPrimitives.ReadUInt32LittleEndian(data.AsSpan(offset)) : BinaryPrimitives.ReadUInt32BigEndian(data.AsSpan(offset));
        int linkType = (int)(U32(20) & 0x0fffffff);
        var packets = new List<CapturedPacket>();
        int pos = 24;
        while (pos + 16 <= data.Length)
        {
            long seconds = U32(pos);
            long fraction = U32(pos + 4);
            int included = (int)U32(pos + 8);
            int original = (int)U32(pos + 12);
            if (included < 0 || pos + 16 + included > data.Length) break;
            var stamp = DateTimeOffset.FromUnixTimeSeconds(seconds).AddTicks(nanos ? fraction / 100 : fraction * 10);
            packets.Add(new CapturedPacket(stamp, data.AsMemory(pos + 16, included), original));
            pos += 16 + included;
        }
        return new CaptureResult(path, linkType, packets);
    }
}

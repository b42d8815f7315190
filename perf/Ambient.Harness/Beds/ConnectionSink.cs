using System.Net.Sockets;

namespace Ambient.Harness.Beds;

/// <summary>
/// Accepts connections in the server pod and holds them open without reading, counting them: the far end of the
/// idle-connection test. Counting here proves each connection really crossed the proxies.
/// </summary>
public sealed class ConnectionSink : IDisposable
{
    private readonly Socket _listener;
    private readonly List<Socket> _held = [];
    private readonly Task _acceptLoop;

    public ConnectionSink(Socket listener)
    {
        _listener = listener;
        _acceptLoop = AcceptAsync();
    }

    public int Count { get { lock (_held) return _held.Count; } }

    /// <summary>Closes every held connection.</summary>
    public void Release()
    {
        Socket[] held;
        lock (_held) { held = _held.ToArray(); _held.Clear(); }
        foreach (var s in held) s.Dispose();
    }

    private async Task AcceptAsync()
    {
        try
        {
            while (true)
            {
                var s = await _listener.AcceptAsync();
                lock (_held) _held.Add(s);
            }
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException) { } // listener closed
    }

    public void Dispose()
    {
        _listener.Dispose();
        _acceptLoop.Wait(TimeSpan.FromSeconds(1));
        Release();
    }
}

using System.Collections.Concurrent;
using System.Net.Sockets;
using Ambient.TestBed;

namespace Ambient.Harness.Load;

/// <summary>
/// Client sockets inside a pod's network namespace. Entering a namespace takes a fresh thread (setns must never run
/// on a pool thread), which would dominate a connection-rate test if done per socket: sockets are made in batches,
/// and keep their namespace whichever thread connects them later.
/// </summary>
public sealed class PodSockets(NetworkNamespace ns, int batch = 128)
{
    private readonly ConcurrentQueue<Socket> _ready = new();
    private readonly Lock _refill = new();

    public Socket Take()
    {
        while (true)
        {
            if (_ready.TryDequeue(out var socket)) return socket;
            lock (_refill)
            {
                if (!_ready.IsEmpty) continue;
                var made = ns.RunInNetns(() =>
                    Enumerable.Range(0, batch).Select(_ => new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp)).ToArray());
                foreach (var s in made)
                {
                    s.NoDelay = true; // request/response traffic: never wait for Nagle
                    _ready.Enqueue(s);
                }
            }
        }
    }

    /// <summary>Closes sockets made but not used.</summary>
    public void Clear()
    {
        while (_ready.TryDequeue(out var s)) s.Dispose();
    }
}

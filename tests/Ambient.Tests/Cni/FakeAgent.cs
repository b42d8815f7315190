using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;

namespace Ambient.Tests.Cni;

/// <summary>
/// A node agent stand-in: a Unix stream socket server that records every connection and request line, and answers
/// with <see cref="Respond"/> (null: hang up without answering). With <see cref="Hang"/> it never answers.
/// </summary>
internal sealed class FakeAgent : IAsyncDisposable
{
    private readonly Socket _listener;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _accepting;
    private readonly List<string> _lines = [];
    private int _connections;
    private int _disposed;

    public FakeAgent()
    {
        SocketPath = Path.Combine("/tmp", $"ambient-cni-test-{Guid.NewGuid():N}"[..34] + ".sock");
        _listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        _listener.Bind(new UnixDomainSocketEndPoint(SocketPath));
        _listener.Listen(16);
        _accepting = AcceptAsync();
    }

    public string SocketPath { get; }

    /// <summary>The response line (without '\n') for a request; null closes the connection without one.</summary>
    public Func<JsonObject, string?> Respond { get; set; } = _ => """{"ok":true}""";

    /// <summary>Read the request, then never answer.</summary>
    public bool Hang { get; set; }

    /// <summary>Every connection, probes included.</summary>
    public int Connections => Volatile.Read(ref _connections);

    /// <summary>The request lines as received, without '\n'.</summary>
    public IReadOnlyList<string> Lines { get { lock (_lines) return [.. _lines]; } }

    public IReadOnlyList<JsonObject> Requests => [.. Lines.Select(l => JsonNode.Parse(l)!.AsObject())];

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket client;
            try { client = await _listener.AcceptAsync(_stop.Token); }
            catch (Exception) { return; }
            Interlocked.Increment(ref _connections);
            _ = ServeAsync(client);
        }
    }

    private async Task ServeAsync(Socket client)
    {
        using var _ = client;
        try
        {
            await using var stream = new NetworkStream(client, ownsSocket: false);
            var line = new MemoryStream();
            var buffer = new byte[4096];
            while (true)
            {
                int n = await stream.ReadAsync(buffer, _stop.Token);
                if (n == 0) return; // a probe, or the client gave up
                int nl = Array.IndexOf(buffer, (byte)'\n', 0, n);
                line.Write(buffer, 0, nl < 0 ? n : nl);
                if (nl >= 0) break;
            }
            string text = Encoding.UTF8.GetString(line.ToArray());
            lock (_lines) _lines.Add(text);
            if (Hang)
            {
                await Task.Delay(Timeout.Infinite, _stop.Token);
                return;
            }
            string? answer = Respond(JsonNode.Parse(text)!.AsObject());
            if (answer is null) return;
            await stream.WriteAsync(Encoding.UTF8.GetBytes(answer + "\n"), _stop.Token);
        }
        catch (Exception) { } // the client went away, or we are stopping
    }

    /// <summary>Stops and removes the socket; a second call does nothing (tests stop the agent early to make it absent).</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        _stop.Cancel();
        _listener.Dispose();
        try { await _accepting; } catch (Exception) { }
        try { File.Delete(SocketPath); } catch (IOException) { }
        _stop.Dispose();
    }
}

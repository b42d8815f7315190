using System.Net.Sockets;
using System.Text.Json;
using Ambient.Cni;
using Microsoft.Extensions.Logging;

namespace Ambient.Cni.Agent;

/// <summary>
/// Serves the CNI plugin (and the agent's own enroll/unenroll commands): one JSON request line per connection,
/// one JSON response line back (wire format in <see cref="AgentProtocol"/>). Answers an add only once the pod's
/// redirection is in place, because the pod's containers start right after.
/// </summary>
public sealed class CniEventServer(string socketPath, PodEnrollment enrollment, ILogger log) : IAsyncDisposable
{
    private readonly Socket _listener = new(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
    private Task _loop = Task.CompletedTask;

    public void Start()
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(socketPath))!);
        if (File.Exists(socketPath))
            File.Delete(socketPath);
        _listener.Bind(new UnixDomainSocketEndPoint(socketPath));
        _listener.Listen(64);
        _loop = AcceptLoopAsync();
        log.LogInformation("listening for CNI events on {Socket}", socketPath);
    }

    private async Task AcceptLoopAsync()
    {
        while (true)
        {
            Socket client;
            try { client = await _listener.AcceptAsync().ConfigureAwait(false); }
            catch (Exception e) when (e is ObjectDisposedException or SocketException) { return; }
            _ = ServeAsync(client);
        }
    }

    private async Task ServeAsync(Socket client)
    {
        using (client)
        {
            AgentResponse response;
            try
            {
                var line = await ReadLineAsync(client).ConfigureAwait(false);
                if (line is null)
                    return; // a STATUS probe: connect and close
                var request = JsonSerializer.Deserialize(line, AgentJsonContext.Default.AgentRequest)
                              ?? throw new JsonException("request is null");
                response = await HandleAsync(request).ConfigureAwait(false);
            }
            catch (Exception e) when (e is JsonException or IOException or SocketException or OperationCanceledException)
            {
                log.LogWarning("bad CNI event request: {Error}", e.Message);
                response = new AgentResponse(false, "bad request: " + e.Message);
            }
            var bytes = JsonSerializer.SerializeToUtf8Bytes(response, AgentJsonContext.Default.AgentResponse);
            try
            {
                await client.SendAsync(bytes, SocketFlags.None).ConfigureAwait(false);
                await client.SendAsync("\n"u8.ToArray(), SocketFlags.None).ConfigureAwait(false);
            }
            catch (SocketException) { }
        }
    }

    private async Task<AgentResponse> HandleAsync(AgentRequest r)
    {
        switch (r.Event)
        {
            case AgentProtocol.Add:
            {
                var (error, enrolled) = await enrollment.AddAsync(r.PodUid, r.PodName, r.PodNamespace, r.Netns, r.Ips).ConfigureAwait(false);
                if (error is not null)
                    log.LogWarning("enrolling pod {Namespace}/{Name}: {Error}", r.PodNamespace, r.PodName, error);
                // A daemon that is not connected yet is not a failure: it gets the pod when it connects.
                return error is null || enrolled ? new AgentResponse(true, null, enrolled) : new AgentResponse(false, error);
            }
            case AgentProtocol.Del:
            {
                var error = await enrollment.RemoveAsync(r.PodUid, r.PodName, r.PodNamespace, r.Netns).ConfigureAwait(false);
                return new AgentResponse(true, error);
            }
            case AgentProtocol.Check:
            {
                bool enrolled = enrollment.IsEnrolled(r.PodUid, r.Netns);
                if (enrolled && !PodRedirection.IsInstalled(r.Netns))
                    return new AgentResponse(false, $"pod {r.PodNamespace}/{r.PodName} is enrolled but its redirect rules are missing");
                return new AgentResponse(true, null, enrolled);
            }
            default:
                return new AgentResponse(false, $"unknown event '{r.Event}'");
        }
    }

    private static async Task<byte[]?> ReadLineAsync(Socket client)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        var buffer = new byte[64 * 1024];
        int n = 0;
        while (n < buffer.Length)
        {
            int r = await client.ReceiveAsync(buffer.AsMemory(n), SocketFlags.None, timeout.Token).ConfigureAwait(false);
            if (r == 0)
                return n == 0 ? null : buffer[..n];
            n += r;
            int nl = Array.IndexOf(buffer, (byte)'\n', 0, n);
            if (nl >= 0)
                return buffer[..nl];
        }
        throw new IOException("request longer than 64 KiB");
    }

    public async ValueTask DisposeAsync()
    {
        _listener.Dispose();
        await _loop.ConfigureAwait(false);
        try { File.Delete(socketPath); } catch (IOException) { }
    }
}

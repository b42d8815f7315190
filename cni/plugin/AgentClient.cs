using System.Net.Sockets;
using System.Text;
using System.Text.Json;

namespace Ambient.Cni;

/// <summary>Talks to the node agent (<see cref="AgentProtocol"/>).</summary>
internal interface IAgentClient
{
    /// <summary>Where the agent is, for messages.</summary>
    string SocketPath { get; }

    /// <summary>One request, one response.</summary>
    /// <exception cref="AgentUnavailableException">No connection, the connection broke, or no answer in time.</exception>
    /// <exception cref="AgentProtocolException">The agent answered something that is not a response.</exception>
    Task<AgentResponse> SendAsync(AgentRequest request, CancellationToken cancellationToken = default);

    /// <summary>Connects and closes (CNI STATUS).</summary>
    /// <exception cref="AgentUnavailableException">No connection in time.</exception>
    Task ProbeAsync(CancellationToken cancellationToken = default);
}

/// <summary>The agent could not be reached or did not answer: a transient condition.</summary>
internal sealed class AgentUnavailableException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>The agent answered, but not in the protocol.</summary>
internal sealed class AgentProtocolException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>The agent client over a Unix stream socket, with one deadline for connect + request + response.</summary>
internal sealed class UnixAgentClient(string socketPath, TimeSpan timeout) : IAgentClient
{
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(5);

    public UnixAgentClient(string socketPath) : this(socketPath, DefaultTimeout) { }

    public string SocketPath { get; } = socketPath;

    public async Task<AgentResponse> SendAsync(AgentRequest request, CancellationToken cancellationToken = default)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        try
        {
            using var socket = await ConnectAsync(deadline.Token);
            await using var stream = new NetworkStream(socket, ownsSocket: false);
            await stream.WriteAsync(AgentProtocol.EncodeRequest(request), deadline.Token);
            byte[] line = await ReadLineAsync(stream, deadline.Token);
            try
            {
                return AgentProtocol.DecodeResponse(line);
            }
            catch (JsonException e)
            {
                throw new AgentProtocolException(
                    $"the node agent at {SocketPath} answered something that is not an agent response: {Excerpt(line)} ({e.Message})", e);
            }
        }
        catch (OperationCanceledException e) when (deadline.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            throw new AgentUnavailableException($"no answer from the ambient node agent at {SocketPath} within {timeout.TotalSeconds:0.###} s", e);
        }
        catch (IOException e)
        {
            throw new AgentUnavailableException($"the connection to the ambient node agent at {SocketPath} broke: {e.Message}", e);
        }
        catch (SocketException e)
        {
            throw new AgentUnavailableException($"the connection to the ambient node agent at {SocketPath} broke: {e.Message}", e);
        }
    }

    public async Task ProbeAsync(CancellationToken cancellationToken = default)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        try
        {
            using var socket = await ConnectAsync(deadline.Token);
            socket.Shutdown(SocketShutdown.Both);
        }
        catch (OperationCanceledException e) when (deadline.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            throw new AgentUnavailableException($"cannot reach the ambient node agent at {SocketPath}: no connection within {timeout.TotalSeconds:0.###} s", e);
        }
        catch (SocketException) { } // connected, then the agent closed first: it is there
    }

    private async Task<Socket> ConnectAsync(CancellationToken cancellationToken)
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            await socket.ConnectAsync(new UnixDomainSocketEndPoint(SocketPath), cancellationToken);
            return socket;
        }
        catch (SocketException e)
        {
            socket.Dispose();
            throw new AgentUnavailableException($"cannot reach the ambient node agent at {SocketPath}: {Describe(e)}", e);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    private string Describe(SocketException e) => e.SocketErrorCode switch
    {
        _ when !Path.Exists(SocketPath) => "the socket does not exist",
        SocketError.ConnectionRefused => "connection refused (nothing is listening on the socket)",
        SocketError.AccessDenied => "permission denied",
        _ => e.Message,
    };

    /// <summary>Reads up to <c>'\n'</c> (not included) or EOF. EOF before any byte means the agent hung up unanswered.</summary>
    private async Task<byte[]> ReadLineAsync(NetworkStream stream, CancellationToken cancellationToken)
    {
        var line = new MemoryStream();
        var buffer = new byte[4096];
        while (true)
        {
            int n = await stream.ReadAsync(buffer, cancellationToken);
            if (n == 0)
            {
                if (line.Length == 0)
                    throw new AgentUnavailableException($"the ambient node agent at {SocketPath} closed the connection without answering");
                return line.ToArray();
            }
            int newline = Array.IndexOf(buffer, (byte)'\n', 0, n);
            line.Write(buffer, 0, newline < 0 ? n : newline);
            if (line.Length > AgentProtocol.MaxResponseBytes)
                throw new AgentProtocolException($"the ambient node agent at {SocketPath} sent a response longer than {AgentProtocol.MaxResponseBytes} bytes");
            if (newline >= 0) return line.ToArray();
        }
    }

    private static string Excerpt(byte[] line)
    {
        string text = Encoding.UTF8.GetString(line, 0, Math.Min(line.Length, 200));
        return "'" + text + (line.Length > 200 ? "…'" : "'");
    }
}

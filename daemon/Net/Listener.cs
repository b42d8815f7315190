using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;

namespace Ambient.Daemon.Net;

/// <summary>A TCP accept loop that hands each connection to a handler; handler failures never stop the loop.</summary>
public sealed class Listener : IAsyncDisposable
{
    private readonly Socket _socket;
    private readonly Func<Socket, Task> _handler;
    private readonly ILogger _log;
    private readonly string _name;
    private Task _loop = Task.CompletedTask;

    private Listener(Socket socket, string name, Func<Socket, Task> handler, ILogger log)
    {
        _socket = socket;
        _name = name;
        _handler = handler;
        _log = log;
    }

    public IPEndPoint EndPoint => (IPEndPoint)_socket.LocalEndPoint!;

    /// <summary>Binds and starts accepting; throws with a message naming the address when it cannot bind.</summary>
    public static Listener Start(IPEndPoint endpoint, string name, Func<Socket, Task> handler, ILogger log, SocketPlacement? placement = null)
    {
        Socket socket;
        try
        {
            socket = (placement ?? SocketPlacement.Host).CreateListener(endpoint);
        }
        catch (SocketException e)
        {
            throw new IOException($"cannot listen on {endpoint} for {name}: {e.SocketErrorCode}" +
                (e.SocketErrorCode == SocketError.AddressNotAvailable ? " (that address is not on this host)" : ""), e);
        }
        var listener = new Listener(socket, name, handler, log);
        listener._loop = listener.AcceptLoopAsync();
        log.LogInformation("listening on {Endpoint} ({Listener})", listener.EndPoint, name);
        return listener;
    }

    private async Task AcceptLoopAsync()
    {
        while (true)
        {
            Socket client;
            try
            {
                client = await _socket.AcceptAsync().ConfigureAwait(false);
            }
            catch (ObjectDisposedException) { return; }
            catch (SocketException e) when (e.SocketErrorCode is SocketError.OperationAborted or SocketError.Interrupted) { return; }
            catch (SocketException e)
            {
                _log.LogWarning("accept on {Listener} failed: {Error}", _name, e.SocketErrorCode);
                await Task.Delay(50).ConfigureAwait(false);
                continue;
            }
            client.NoDelay = true; // relayed request/response traffic must not wait for Nagle
            _ = RunHandlerAsync(client);
        }
    }

    private async Task RunHandlerAsync(Socket client)
    {
        await Task.Yield();
        try
        {
            await _handler(client).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            _log.LogError(e, "{Listener} handler failed", _name);
            client.Dispose();
        }
    }

    public async ValueTask DisposeAsync()
    {
        _socket.Dispose();
        await _loop.ConfigureAwait(false);
    }
}

using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;

namespace Ambient.Tests.Identity;

/// <summary>Runs a real TLS handshake between two SslStreams over a loopback TCP connection.</summary>
internal static class LoopbackTls
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    public static async Task<Connection> HandshakeAsync(
        Func<EndPoint, SslServerAuthenticationOptions> serverOptions,
        SslClientAuthenticationOptions clientOptions)
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(1);
        var clientSocket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        var connect = clientSocket.ConnectAsync(listener.LocalEndPoint!);
        var serverSocket = await listener.AcceptAsync();
        await connect;
        var clientEndPoint = clientSocket.LocalEndPoint!;
        var remoteAtServer = serverSocket.RemoteEndPoint!;

        var server = new SslStream(new NetworkStream(serverSocket, ownsSocket: true));
        var client = new SslStream(new NetworkStream(clientSocket, ownsSocket: true));
        using var cts = new CancellationTokenSource(Timeout);
        var serverTask = Run(server, s => s.AuthenticateAsServerAsync(serverOptions(remoteAtServer), cts.Token));
        var clientTask = Run(client, c => c.AuthenticateAsClientAsync(clientOptions, cts.Token));
        await Task.WhenAll(serverTask, clientTask);
        return new Connection(server, client, serverTask.Result, clientTask.Result, clientEndPoint);
    }

    private static async Task<Exception?> Run(SslStream stream, Func<SslStream, Task> authenticate)
    {
        try
        {
            await authenticate(stream);
            return null;
        }
        catch (Exception ex)
        {
            await stream.DisposeAsync(); // closes the socket so the other side does not wait forever
            return ex;
        }
    }

    internal sealed record Connection(
        SslStream Server,
        SslStream Client,
        Exception? ServerError,
        Exception? ClientError,
        EndPoint ClientEndPoint) : IAsyncDisposable
    {
        /// <summary>
        /// With TLS 1.3 the client finishes its handshake before the server has checked the client
        /// certificate, so a refused client may "succeed" and only fail on first use.
        /// </summary>
        public Task AssertClientCannotUseAsync() => AssertCannotUseAsync(Client, ClientError);

        /// <summary>
        /// Likewise the server may complete its handshake before the client (whose certificate check
        /// in .NET runs once OpenSSL reports the handshake done) refuses the server's certificate.
        /// </summary>
        public Task AssertServerCannotUseAsync() => AssertCannotUseAsync(Server, ServerError);

        private static async Task AssertCannotUseAsync(SslStream stream, Exception? handshakeError)
        {
            if (handshakeError is not null)
            {
                return;
            }

            try
            {
                var buffer = new byte[16];
                int read = await stream.ReadAsync(buffer).AsTask().WaitAsync(Timeout);
                Assert.Equal(0, read);
            }
            catch (Exception ex) when (ex is IOException or AuthenticationException or ObjectDisposedException)
            {
            }
        }

        public async ValueTask DisposeAsync()
        {
            await Server.DisposeAsync();
            await Client.DisposeAsync();
        }
    }
}

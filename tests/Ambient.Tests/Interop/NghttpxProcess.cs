using System.Net;

namespace Ambient.Tests.Interop;

/// <summary>
/// nghttpx as an HTTP/2 forward proxy (<c>-s</c>) terminating mesh mTLS on 127.0.0.1: TLS 1.3 only, ALPN h2
/// only, client certificate required and verified against the mesh root, CONNECT forwarded to an HTTP/1.1
/// CONNECT proxy backend. Killed on dispose.
/// </summary>
public sealed class NghttpxProcess : IAsyncDisposable
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(10);

    private readonly ExternalProcess _process;

    private NghttpxProcess(ExternalProcess process, IPEndPoint endPoint)
    {
        _process = process;
        EndPoint = endPoint;
    }

    public IPEndPoint EndPoint { get; }
    public string CommandLine => _process.CommandLine;
    public string Output => _process.Output;

    public static IReadOnlyList<string> Arguments(int port, IPEndPoint backend, string clientCaPath, string keyPath, string certPath) =>
    [
        "--conf=/dev/null",                 // the Debian default config logs to syslog
        "--single-process",                 // one pid to kill
        "--http2-proxy",                    // -s: forward proxy; CONNECT goes to the backend as HTTP/1.1 CONNECT
        $"--frontend=127.0.0.1,{port}",
        $"--backend=127.0.0.1,{backend.Port}",
        "--tls-min-proto-version=TLSv1.3",
        "--tls-max-proto-version=TLSv1.3",
        "--npn-list=h2",                    // ALPN: h2 only, as HBONE
        "--verify-client",
        $"--verify-client-cacert={clientCaPath}",
        "--no-ocsp",
        "--log-level=INFO",
        .. FrameDebug ? ["--frontend-frame-debug"] : Array.Empty<string>(),
        keyPath,
        certPath,
    ];

    /// <summary>Set AMBIENT_NGHTTPX_FRAME_DEBUG=1 to have nghttpx print every frontend HTTP/2 frame into the test output.</summary>
    private static bool FrameDebug => Environment.GetEnvironmentVariable("AMBIENT_NGHTTPX_FRAME_DEBUG") == "1";

    /// <summary>Starts nghttpx on a free port, retrying with another port if the chosen one was taken meanwhile.</summary>
    public static async Task<NghttpxProcess> StartAsync(IPEndPoint backend, string clientCaPath, string keyPath, string certPath, Action<string>? echo)
    {
        var binary = ExternalTools.Nghttpx.Value ?? throw new InvalidOperationException("nghttpx is not installed");
        for (int attempt = 1; ; attempt++)
        {
            int port = ExternalTools.FreeLoopbackPort();
            var process = ExternalProcess.Start(binary, Arguments(port, backend, clientCaPath, keyPath, certPath), echo);
            try
            {
                // e.g. "NOTICE (shrpx.cc:1012) Listening on 127.0.0.1:40123, tls"; the worker is ready shortly after.
                await process.WaitForLineAsync(l => l.Contains($"Listening on 127.0.0.1:{port}", StringComparison.Ordinal), StartTimeout, "listening");
                await process.WaitForLineAsync(l => l.Contains("Entering event loop", StringComparison.Ordinal), StartTimeout, "its event loop");
                return new NghttpxProcess(process, new IPEndPoint(IPAddress.Loopback, port));
            }
            catch (InvalidOperationException) when (attempt < 3 && process.Output.Contains("Address already in use", StringComparison.Ordinal))
            {
                await process.DisposeAsync();
            }
            catch
            {
                await process.DisposeAsync();
                throw;
            }
        }
    }

    public ValueTask DisposeAsync() => _process.DisposeAsync();
}

using System.Net;
using Ambient.Harness.Beds;
using Ambient.TestBed;

namespace Ambient.Harness.Configs;

/// <summary>
/// nginx as an HTTP reverse proxy on node1 (where a node proxy would run), keep-alive to the server's nginx: the L7
/// peer the waypoint is judged against. Plaintext, as nginx has no mesh identity to prove. Clients reach it over
/// HTTP/1.1 on one port and over h2c on another (nginx 1.22 cannot serve both on one plaintext port); upstream it
/// always speaks HTTP/1.1 to the server's HTTP/1.1 port, because proxy_pass has no HTTP/2.
/// </summary>
public sealed class NginxReverseProxy : Configuration
{
    private const int Http1Port = 18080;
    private const int H2cPort = 18081;
    private NetnsProcess? _nginx;

    public override string Name => "nginx-l7";

    public override string Description =>
        "nginx 1.22 as an HTTP reverse proxy on node1 (keep-alive upstream pool), plaintext; clients HTTP/1.1 or h2c, upstream always HTTP/1.1";

    public override bool CarriesRawTcp => false;

    public override bool IsHttpProxy => true;

    public override IReadOnlyList<int> ProxyPids => _nginx is null ? [] : [_nginx.Id];

    public override IPEndPoint Target(int serverPort) => new(Bed.Node1.IP, serverPort == Ports.H2c ? H2cPort : Http1Port);

    protected override Task StartProxiesAsync(Bed bed, CancellationToken cancel)
    {
        // keepalive 256 idle upstream connections: HTTP/2 at full load has 160 requests in flight, each needing an
        // upstream connection of its own; a smaller pool would close and reopen connections on every burst.
        _nginx = ServerApps.StartNginxWith(bed.Node1, Path.Combine(bed.WorkDirectory, "nginx-l7"), $$"""
            upstream server { server {{bed.Server.IP}}:{{Ports.Http}}; keepalive 256; }
            server {
                listen {{Http1Port}} backlog=4096;
                listen {{H2cPort}} http2 backlog=4096;
                location / { proxy_pass http://server; proxy_http_version 1.1; proxy_set_header Connection ""; }
            }
            """);
        return Task.CompletedTask;
    }

    protected override ValueTask StopProxiesAsync()
    {
        _nginx?.Dispose();
        return ValueTask.CompletedTask;
    }
}

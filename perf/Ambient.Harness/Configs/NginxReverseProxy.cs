using System.Net;
using Ambient.Harness.Beds;
using Ambient.TestBed;

namespace Ambient.Harness.Configs;

/// <summary>
/// nginx as an HTTP reverse proxy on node1 (where a node proxy would run), keep-alive to the server's nginx: the L7
/// peer the waypoint is judged against. Plaintext, as nginx has no mesh identity to prove.
/// </summary>
public sealed class NginxReverseProxy : Configuration
{
    private const int ListenPort = 18080;
    private NetnsProcess? _nginx;

    public override string Name => "nginx-l7";

    public override string Description => "nginx 1.22 as an HTTP reverse proxy on node1 (keep-alive upstream pool), plaintext";

    public override bool CarriesRawTcp => false;

    public override IReadOnlyList<int> ProxyPids => _nginx is null ? [] : [_nginx.Id];

    public override IPEndPoint Target(int serverPort) => new(Bed.Node1.IP, ListenPort);

    protected override Task StartProxiesAsync(Bed bed, CancellationToken cancel)
    {
        _nginx = ServerApps.StartNginxWith(bed.Node1, Path.Combine(bed.WorkDirectory, "nginx-l7"), $$"""
            upstream server { server {{bed.Server.IP}}:{{Ports.Http}}; keepalive 64; }
            server {
                listen {{ListenPort}} backlog=4096;
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

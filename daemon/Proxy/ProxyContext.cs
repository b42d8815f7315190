using System.Collections.Concurrent;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using Ambient.Config;
using Ambient.Hbone;
using Ambient.Identity;
using Ambient.LoadBalancing;
using Microsoft.Extensions.Logging;

namespace Ambient.Daemon.Proxy;

/// <summary>What every proxy path of one daemon shares: config, certificates, the HBONE pool, logs.</summary>
public sealed class ProxyContext
{
    private readonly ConcurrentDictionary<string, SpiffeId> _ids = new();

    public required ConfigStore Config { get; init; }
    public required CertificateManager Certificates { get; init; }
    public required X509Certificate2 Root { get; init; }
    public required DaemonOptions Options { get; init; }
    public required ILoggerFactory Logs { get; init; }
    public HboneClient Hbone { get; set; } = null!;

    /// <summary>Istio TCP metrics and the daemon's health gauges (<c>:15020/metrics</c>).</summary>
    public Ambient.Daemon.Telemetry.DaemonMetrics Metrics { get; init; } = new();

    /// <summary>Service endpoint selection; its health registry (open connections, ejections) is shared by every workload this daemon serves.</summary>
    public LoadBalancer LoadBalancer { get; init; } = new();

    /// <summary>In-pod mode: where each enrolled pod's sockets live, by pod address (for HBONE source sockets).</summary>
    public ConcurrentDictionary<System.Net.IPAddress, Ambient.Daemon.Net.SocketPlacement> Placements { get; } = new();

    /// <summary>The socket an HBONE connection is dialled from: inside the source pod when it is enrolled in-pod.</summary>
    public System.Net.Sockets.Socket CreateHboneSocket(HbonePoolKey key)
        => key.SourceIp is { } ip && Placements.TryGetValue(ip, out var placement)
            ? placement.CreateUpstream(key.HboneEndpoint.AddressFamily)
            : Ambient.Daemon.Net.SocketPlacement.Host.CreateUpstream(key.HboneEndpoint.AddressFamily);

    private readonly CancellationTokenSource _drain = new();

    /// <summary>Cancelled when the daemon starts draining: HBONE server connections send GOAWAY.</summary>
    public CancellationToken Draining => _drain.Token;

    public void BeginDrain() => _drain.Cancel();

    public ILogger AccessLog => field ??= Logs.CreateLogger("access");
    public ILogger TlsLog => field ??= Logs.CreateLogger("tls");

    /// <summary>HTTP/2 settings of every HBONE server connection (created once, not per connection).</summary>
    public Ambient.Http2.Http2ConnectionOptions Http2Server => field ??= Ambient.Http2.Http2ConnectionOptions.Server with { Logger = Logs.CreateLogger("http2") };

    /// <summary>Open inbound connections, re-checked when policies change.</summary>
    public ConnectionRegistry Connections => field ??= new ConnectionRegistry(Logs.CreateLogger("authorization"));

    /// <summary>Parses (once) a SPIFFE URI from the config into the identity layer's type.</summary>
    public SpiffeId Spiffe(string uri) => _ids.GetOrAdd(uri, static u =>
        SpiffeId.Parse(u));

    public async ValueTask<SslClientAuthenticationOptions> ClientTlsAsync(HbonePoolKey key, CancellationToken ct)
    {
        var cert = await Certificates.GetAsync(Spiffe(key.SourceIdentity), ct).ConfigureAwait(false);
        var expected = new List<SpiffeId>();
        foreach (var id in key.DestinationIdentities.Split(','))
            expected.Add(Spiffe(id));
        return MeshTls.CreateClientOptions(cert, Root, expected, TlsLog);
    }
}

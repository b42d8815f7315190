using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Ambient.Config;
using Ambient.Hbone;
using Ambient.Identity;
using Ambient.Observability.Http;
using Ambient.Observability.Metrics;
using Ambient.Waypoint.Forwarding;
using Ambient.Waypoint.Proxy;
using Ambient.Waypoint.Security;
using Ambient.Waypoint.Transport;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using OpenTelemetry;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;
using Prometheus;
using Yarp.ReverseProxy.Forwarder;

namespace Ambient.Waypoint;

/// <summary>
/// The waypoint process: config (watched file), the mesh CA and its own workload certificate, Kestrel serving HTTP
/// inside the HBONE tunnels it accepts, the request pipeline, metrics on :15020 and readiness on :15021.
/// </summary>
public sealed class WaypointHost : IAsyncDisposable
{
    /// <summary>Activities of the waypoint's own work (none yet beyond ASP.NET Core's and YARP's).</summary>
    public const string ActivitySourceName = "Ambient.Waypoint";

    private readonly WaypointOptions _options;
    private readonly ILoggerFactory _logs;
    private readonly ILogger _log;
    private ConfigFileWatcher? _watcher;
    private Ambient.Discovery.Kubernetes.KubernetesSource? _kubernetes;
    private MeshCa? _ca;
    private CertificateManager? _certificates;
    private HboneClient? _hbone;
    private UpstreamClients? _upstreams;
    private WebApplication? _app;
    private LocalHttpServer? _metricsServer;
    private LocalHttpServer? _readinessServer;
    private TracerProvider? _tracing;
    private ActivityListener? _propagation;
    private volatile bool _ready;

    public WaypointHost(WaypointOptions options, ILoggerFactory logs)
    {
        _options = options;
        _logs = logs;
        _log = logs.CreateLogger("waypoint");
    }

    public IPEndPoint? HboneEndpoint { get; private set; }

    /// <summary>The request pipeline's state (circuit breakers, connection limits), for tests and diagnostics.</summary>
    internal WaypointRuntime? Runtime { get; private set; }

    /// <exception cref="WaypointStartException">The config, CA or addresses are unusable; the message says why.</exception>
    /// <param name="cancellationToken">A stop request while starting (waiting for the Kubernetes API or our pod): throws <see cref="OperationCanceledException"/>.</param>
    public async Task StartAsync(CancellationToken cancellationToken = default)
    {
        var store = new ConfigStore();
        ConfigLoadResult initial;
        if (_options.Kubernetes)
        {
            try
            {
                _kubernetes = await Ambient.Discovery.Kubernetes.KubernetesSource.ConnectAsync(_options.Kubeconfig, store, _logs.CreateLogger("kubernetes"), TimeSpan.FromSeconds(60), cancellationToken).ConfigureAwait(false);
            }
            catch (Ambient.Discovery.Kubernetes.KubernetesUnavailableException e)
            {
                throw new WaypointStartException(e.Message);
            }
            initial = new ConfigLoadResult(store.Current.Config, []);
        }
        else if (_options.ConfigPath is { } path)
        {
            _watcher = new ConfigFileWatcher(path, store, _logs.CreateLogger("config"));
            initial = _watcher.Start();
        }
        else
        {
            initial = ConfigLoader.LoadEmbeddedDefault(1);
            if (initial.Usable) store.Update(initial.Config!);
        }
        if (!initial.Usable)
            throw new WaypointStartException("invalid configuration:" + string.Concat(initial.Errors.Select(e => "\n  " + e)));
        var workload = await FindOwnWorkloadAsync(store, cancellationToken).ConfigureAwait(false);
        var snapshot = store.Current;
        var waypoint = WaypointOf(workload, _options);
        if (snapshot.ServiceByName(waypoint.Namespace, waypoint.Name) is null)
            _log.LogWarning("waypoint service {Waypoint} is not in the config: no service can send traffic here yet", waypoint);

        try
        {
            _ca = _options.CaCertPath is not null ? MeshCa.Load(_options.CaCertPath, _options.CaKeyPath!) : MeshCa.LoadOrCreate(_options.StateDirectory, _logs.CreateLogger("ca"));
        }
        catch (Exception e) when (e is MeshCaException or IOException or UnauthorizedAccessException)
        {
            throw new WaypointStartException($"mesh CA unusable: {e.Message}");
        }
        var root = _ca.RootCertificate;
        var tlsLog = _logs.CreateLogger("tls");
        _certificates = new CertificateManager(new LocalCaIssuer(_ca, snapshot.TrustDomain), _logs.CreateLogger("certificates"));
        var identity = SpiffeId.Parse(workload.Identity);
        await _certificates.GetAsync(identity).ConfigureAwait(false);
        _hbone = new HboneClient(new HboneClientOptions { Logger = _logs.CreateLogger("hbone") }, async (key, ct) =>
        {
            var certificate = await _certificates.GetAsync(identity, ct).ConfigureAwait(false);
            var expected = new List<SpiffeId>();
            foreach (var id in key.DestinationIdentities.Split(',')) expected.Add(SpiffeId.Parse(id));
            return MeshTls.CreateClientOptions(certificate, root, expected, tlsLog);
        });

        MetricsDefaults.Suppress();
        var registry = Metrics.NewCustomRegistry();
        var requestMetrics = new RequestMetrics(Metrics.WithCustomRegistry(registry));
        DotNetStats.Register(registry);
        var runtime = new WaypointRuntime(store, waypoint, requestMetrics, new JwksCache(new JwksFetcher()));
        Runtime = runtime;
        StartTracing();

        HboneEndpoint = _options.HboneEndpoint ?? new IPEndPoint(workload.Addresses[0], UpstreamEndpoint.HbonePort);
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.Services.AddSingleton(_logs);
        builder.Services.AddHttpForwarder();
        builder.WebHost.UseHboneTransport(new HboneTransportOptions
        {
            ServerTls = verification =>
            {
                _certificates.TryGetCurrent(identity, out var current);
                return MeshTls.CreateServerOptions(current!, root, store.Current.TrustDomain, tlsLog, verification);
            },
            Logger = _logs.CreateLogger("hbone"),
        });
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.Limits.ApplyProxyLimits();
            kestrel.AddServerHeader = false;
            kestrel.ListenHbone(HboneEndpoint);
        });
        _app = builder.Build();
        var forwarder = new HboneForwarder(_app.Services.GetRequiredService<IHttpForwarder>(), HboneHttpClient.Create(_hbone, workload.Identity));
        // One HTTP client per destination service: its connections count against the service's tcp.maxConnections.
        _upstreams = new UpstreamClients(_hbone, workload.Identity);
        var pipeline = new RequestPipeline(runtime, forwarder, _upstreams, _logs.CreateLogger("access"), _log);
        _app.UseWebSockets();
        _app.Run(pipeline.HandleAsync);
        try
        {
            await _app.StartAsync().ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or SocketException)
        {
            throw new WaypointStartException($"cannot listen for HBONE on {HboneEndpoint}: {e.Message}");
        }

        _metricsServer = StartHttp(_options.MetricsEndpoint, "metrics", async request =>
        {
            if (request.Path is not ("/metrics" or "/stats/prometheus")) return LocalHttpResponse.Text(404, "not found: metrics are at /metrics\n");
            using var body = new MemoryStream();
            await registry.CollectAndExportAsTextAsync(body).ConfigureAwait(false);
            return new LocalHttpResponse(200, "text/plain; version=0.0.4; charset=utf-8", body.ToArray());
        });
        _readinessServer = StartHttp(_options.ReadinessEndpoint, "readiness", request => ValueTask.FromResult(request.Path == "/healthz/ready"
            ? (_ready ? LocalHttpResponse.Text(200, "ready\n") : LocalHttpResponse.Text(503, "not ready\n"))
            : LocalHttpResponse.Text(404, "not found\n")));
        _ready = true;
        _log.LogInformation("ready: waypoint {Waypoint} ({Identity}) serving HBONE on {Endpoint}", waypoint, workload.Identity, HboneEndpoint);
    }

    /// <summary>
    /// W3C trace context is always continued (an incoming <c>traceparent</c> becomes the parent of the upstream one):
    /// ASP.NET Core and YARP only create activities when someone listens. With <c>--otlp-endpoint</c> the OpenTelemetry
    /// SDK listens, samples by parent and exports spans; otherwise a listener asks for propagation only.
    /// </summary>
    private void StartTracing()
    {
        string[] sources = ["Microsoft.AspNetCore", "Yarp.ReverseProxy", ActivitySourceName];
        if (_options.OtlpEndpoint is { } otlp)
        {
            _tracing = Sdk.CreateTracerProviderBuilder()
                .AddSource(sources)
                .SetSampler(new ParentBasedSampler(new AlwaysOnSampler()))
                .ConfigureResource(r => r.AddService("ambient-waypoint"))
                .AddOtlpExporter(o => o.Endpoint = otlp)
                .Build();
            return;
        }
        _propagation = new ActivityListener
        {
            ShouldListenTo = source => Array.IndexOf(sources, source.Name) >= 0,
            Sample = static (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.PropagationData,
        };
        ActivitySource.AddActivityListener(_propagation);
    }

    private LocalHttpServer? StartHttp(IPEndPoint? endpoint, string name, Func<LocalHttpRequest, ValueTask<LocalHttpResponse>> handle)
    {
        if (endpoint is null) return null;
        var server = new LocalHttpServer(endpoint, handle, _logs.CreateLogger(name), name);
        try { server.Start(); }
        catch (SocketException e) { throw new WaypointStartException($"cannot listen on {endpoint} for {name}: {e.SocketErrorCode}"); }
        return server;
    }

    /// <summary>Set by Gateway API implementations (Istio included) on a gateway's pods: the Gateway's name.</summary>
    private const string GatewayNameLabel = "gateway.networking.k8s.io/gateway-name";

    /// <summary>
    /// The waypoint (Gateway and its Service, which Istio names alike) this process serves: <c>--waypoint</c>; else the
    /// Gateway named by the workload's <c>gateway.networking.k8s.io/gateway-name</c> label, as on the pods Istio deploys
    /// for a waypoint (named <c>NAME-&lt;hash&gt;-&lt;id&gt;</c>, not NAME); else the workload's own namespace/name.
    /// </summary>
    private static NamespacedName WaypointOf(Workload workload, WaypointOptions options)
    {
        if (options.Waypoint is { } explicitName) return new NamespacedName(explicitName.Split('/')[0], explicitName.Split('/')[1]);
        if (workload.Labels.TryGetValue(GatewayNameLabel, out var gateway) && gateway.Length > 0) return new NamespacedName(workload.Namespace, gateway);
        var name = options.Workload;
        return new NamespacedName(name.Split('/')[0], name.Split('/')[1]);
    }

    /// <summary>How long a waypoint on the Kubernetes source waits for its own pod to be Running with an address.</summary>
    internal static readonly TimeSpan OwnPodWait = TimeSpan.FromSeconds(60);

    /// <summary>
    /// This process's workload. From a file a missing one is a mistake (fail at once); from the API it is usually
    /// our own pod not yet Running with an IP when we start, so wait for it rather than crash-loop.
    /// </summary>
    private async Task<Workload> FindOwnWorkloadAsync(ConfigStore store, CancellationToken cancellationToken)
    {
        var deadline = Stopwatch.StartNew();
        var logged = false;
        while (true)
        {
            if (FindWorkload(store.Current, _options.Workload) is { } found) return found;
            if (!_options.Kubernetes || deadline.Elapsed >= OwnPodWait)
                throw new WaypointStartException($"--workload {_options.Workload} is not a workload in the config" +
                    (_options.Kubernetes ? $" (waited {OwnPodWait.TotalSeconds:F0} s for the pod to be Running with an IP)" : ""));
            if (!logged)
            {
                _log.LogInformation("waiting for workload {Workload} (this pod) to be Running with an IP in the API", _options.Workload);
                logged = true;
            }
            await Task.Delay(200, cancellationToken).ConfigureAwait(false);
        }
    }

    private static Workload? FindWorkload(MeshSnapshot snapshot, string namespacedName)
    {
        if (snapshot.WorkloadByUid(namespacedName) is { } byUid) return byUid;
        foreach (var w in snapshot.Config.Workloads)
            if ($"{w.Namespace}/{w.Name}" == namespacedName) return w;
        return null;
    }

    /// <summary>Readiness goes false, new tunnels are refused (GOAWAY), requests in flight may finish until the deadline.</summary>
    public async Task DrainAsync(TimeSpan deadline)
    {
        _ready = false;
        if (_app is null) return;
        using var timeout = new CancellationTokenSource(deadline);
        var clock = Stopwatch.StartNew();
        // Kestrel stops gracefully until the token fires, then aborts what is left (it may or may not throw).
        try { await _app.StopAsync(timeout.Token).ConfigureAwait(false); }
        catch (OperationCanceledException) { }
        if (timeout.IsCancellationRequested)
            _log.LogWarning("drain deadline of {Deadline} s reached: cut the requests still in flight", deadline.TotalSeconds);
        else
            _log.LogInformation("drained in {Seconds:F1} s", clock.Elapsed.TotalSeconds);
    }

    public async ValueTask DisposeAsync()
    {
        _ready = false;
        _watcher?.Dispose();
        if (_kubernetes is not null) await _kubernetes.DisposeAsync().ConfigureAwait(false);
        foreach (var server in new[] { _metricsServer, _readinessServer })
            if (server is not null) await server.DisposeAsync().ConfigureAwait(false);
        if (_app is not null) await _app.DisposeAsync().ConfigureAwait(false);
        _upstreams?.Dispose();
        if (_hbone is not null) await _hbone.DisposeAsync().ConfigureAwait(false);
        if (_certificates is not null) await _certificates.DisposeAsync().ConfigureAwait(false);
        _tracing?.Dispose();
        _propagation?.Dispose();
        _ca?.Dispose();
    }
}

/// <summary>The waypoint cannot start; the message says why and what to fix.</summary>
public sealed class WaypointStartException(string message) : Exception(message);

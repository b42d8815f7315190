using System.Net;
using System.Net.Sockets;
using Ambient.Config;
using Ambient.Daemon.InPod;
using Ambient.Daemon.Net;
using Ambient.NodeAgent;
using Ambient.Daemon.Proxy;
using Ambient.Hbone;
using Ambient.Identity;
using Ambient.Observability;
using Ambient.Observability.Http;
using Microsoft.Extensions.Logging;

namespace Ambient.Daemon;

/// <summary>
/// The node proxy process: loads the config (and keeps reloading it), holds the mesh CA and workload
/// certificates, and runs the listeners of every workload it serves, adjusting them as the config changes.
/// </summary>
public sealed class NodeDaemon : IAsyncDisposable
{
    private readonly DaemonOptions _options;
    private readonly ILoggerFactory _logs;
    private readonly ILogger _log;
    private readonly Dictionary<string, WorkloadListeners> _served = new();
    private readonly SemaphoreSlim _reconcile = new(1, 1);
    private ProxyContext? _context;
    private ConfigFileWatcher? _watcher;
    private LocalHttpServer? _readiness;
    private LocalHttpServer? _metrics;
    private LocalHttpServer? _admin;
    private readonly LogLevelSwitch _levels;
    private readonly Action _quit;
    private MeshCa? _ca;
    private InPodManager? _inPod;
    private Ambient.Discovery.Kubernetes.KubernetesSource? _kubernetes;
    private NodeAgentServer? _agentServer;
    private volatile bool _ready;

    /// <param name="levels">The log level the admin API may change; null makes it fixed.</param>
    /// <param name="quit">What the admin API's <c>/quitquitquit</c> does (the host starts the drain).</param>
    public NodeDaemon(DaemonOptions options, ILoggerFactory logs, LogLevelSwitch? levels = null, Action? quit = null)
    {
        _options = options;
        _logs = logs;
        _log = logs.CreateLogger("daemon");
        _levels = levels ?? new LogLevelSwitch(LogLevel.Information);
        _quit = quit ?? (() => { });
    }

    public bool IsReady => _ready;
    public ConfigStore? Config => _context?.Config;
    internal ProxyContext? Context => _context;

    /// <summary>Starts everything; throws <see cref="DaemonStartException"/> for a bad config or unusable CA/addresses.</summary>
    /// <param name="cancellationToken">A stop request while starting (waiting for the Kubernetes API): throws <see cref="OperationCanceledException"/>.</param>
    public async Task StartAsync(CancellationToken cancellationToken = default)
    {
        await WarmUpSocketEngineAsync().ConfigureAwait(false);

        var store = new ConfigStore();
        ConfigLoadResult initial;
        if (_options.Kubernetes)
        {
            await StartKubernetesAsync(store, cancellationToken).ConfigureAwait(false);
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
            if (initial.Usable)
                store.Update(initial.Config!);
        }
        if (!initial.Usable)
            throw new DaemonStartException("invalid configuration:" + string.Concat(initial.Errors.Select(e => "\n  " + e)));
        var snapshot = store.Current;
        _log.LogInformation("config loaded from {Source}: {Workloads} workloads, {Services} services, {Policies} policies, generation {Generation}",
            _options.Kubernetes ? $"Kubernetes {_kubernetes!.Server}" : _options.ConfigPath ?? "embedded default", snapshot.Config.Workloads.Length, snapshot.Config.Services.Length,
            snapshot.Config.AuthorizationPolicies.Length + snapshot.Config.PeerAuthentications.Length, snapshot.Generation);

        try
        {
            _ca = _options.CaCertPath is not null
                ? MeshCa.Load(_options.CaCertPath, _options.CaKeyPath!)
                : MeshCa.LoadOrCreate(_options.StateDirectory, _logs.CreateLogger("ca"));
        }
        catch (Exception e) when (e is MeshCaException or IOException or UnauthorizedAccessException)
        {
            throw new DaemonStartException($"mesh CA unusable: {e.Message}");
        }
        var certificates = new CertificateManager(new LocalCaIssuer(_ca, snapshot.TrustDomain), _logs.CreateLogger("certificates"));
        _context = new ProxyContext
        {
            Config = store,
            Certificates = certificates,
            Root = _ca.RootCertificate,
            Options = _options,
            Logs = _logs,
            Metrics = new Ambient.Daemon.Telemetry.DaemonMetrics(_options.Cluster),
        };
        var metrics = _context.Metrics;
        var source = _options.Kubernetes ? "kubernetes" : "file";
        metrics.ObserveAtScrape(() => store.Current, source,
            () => _kubernetes is { } k ? k.Problems.Count(p => p.Rejected) : store.Current.Config.RejectedObjects.Length,
            () => _context.Hbone.ConnectionCount, certificates);
        store.Changed += (_, _) => metrics.Tcp.OnConfigChanged();
        if (_watcher is not null)
        {
            metrics.ConfigErrors(source, initial.Errors.Length);
            _watcher.Reloaded += (_, result) => metrics.ConfigErrors(source, result.Errors.Length);
        }
        store.Changed += (_, e) => _context.LoadBalancer.Health.Retain(e.Current);
        _context.Hbone = new HboneClient(new HboneClientOptions { Logger = _logs.CreateLogger("hbone"), SocketFactory = _context.CreateHboneSocket }, _context.ClientTlsAsync);

        store.Changed += (_, e) => metrics.ConnectionsClosedByPolicy(_context.Connections.Recheck(e.Current));
        if (_options.AgentSocket is { } agentSocket)
        {
            // In-pod mode: the pods come from the node agent, not from the config's node assignment.
            _inPod = new InPodManager(_context);
            Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(agentSocket))!);
            _agentServer = new NodeAgentServer(_inPod, agentSocket, _logs.CreateLogger("nodeagent"));
            try { _agentServer.Start(); }
            catch (Exception e) when (e is IOException or SocketException) { throw new DaemonStartException($"cannot listen for the node agent on {agentSocket}: {e.Message}"); }
            _log.LogInformation("in-pod mode: waiting for the node agent on {Socket}", agentSocket);
        }
        else
        {
            await ReconcileAsync(snapshot, throwOnError: true).ConfigureAwait(false);
            store.Changed += (_, e) => _ = ReconcileAsync(e.Current, throwOnError: false);
        }

        _readiness = StartHttp(_options.ReadinessEndpoint, "readiness", request => ValueTask.FromResult(request.Path == "/healthz/ready"
            ? (_ready ? LocalHttpResponse.Text(200, "ready\n") : LocalHttpResponse.Text(503, "not ready\n"))
            : LocalHttpResponse.Text(404, "not found\n")));
        _metrics = StartHttp(_options.MetricsEndpoint, "metrics", ServeMetricsAsync);
        var admin = new Ambient.Daemon.Admin.AdminApi(_context, _levels, _quit);
        _admin = StartHttp(_options.AdminEndpoint, "admin", admin.HandleAsync, loopbackOnly: true);
        _ready = true;
        // Start-up garbage (config parsing, CA and certificate generation) is gone now; give its memory back to
        // the OS once instead of holding it until the first gen-2 collection under load.
        GC.Collect(2, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        _log.LogInformation("ready: serving {Count} workloads on node {Node}", _inPod is null ? _served.Count : _inPod.Count, _options.Node);
    }

    private LocalHttpServer? StartHttp(IPEndPoint? endpoint, string name, Func<LocalHttpRequest, ValueTask<LocalHttpResponse>> handle, bool loopbackOnly = false)
    {
        if (endpoint is null) return null;
        var server = new LocalHttpServer(endpoint, handle, _logs.CreateLogger(name), name, loopbackOnly);
        try { server.Start(); }
        catch (SocketException e) { throw new DaemonStartException($"cannot listen on {endpoint} for {name}: {e.SocketErrorCode}"); }
        return server;
    }

    private async ValueTask<LocalHttpResponse> ServeMetricsAsync(LocalHttpRequest request)
    {
        if (request.Path is not ("/metrics" or "/stats/prometheus"))
            return LocalHttpResponse.Text(404, "not found: metrics are at /metrics\n");
        using var body = new MemoryStream();
        await _context!.Metrics.Registry.CollectAndExportAsTextAsync(body).ConfigureAwait(false);
        return new LocalHttpResponse(200, "text/plain; version=0.0.4; charset=utf-8", body.ToArray());
    }

    /// <summary>
    /// Graceful stop: readiness goes false first, listeners close (new connections are refused and go elsewhere),
    /// HBONE peers get GOAWAY, and connections in flight may finish until <paramref name="deadline"/>; whatever
    /// is left is cut by <see cref="DisposeAsync"/>. Returns how many connections were still open at the deadline.
    /// </summary>
    public async Task<long> DrainAsync(TimeSpan deadline)
    {
        if (_context is null) return 0;
        _ready = false;
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        _context.BeginDrain();
        foreach (var listeners in _served.Values)
            await listeners.DisposeAsync().ConfigureAwait(false);
        if (_inPod is not null)
            await _inPod.StopAcceptingAsync().ConfigureAwait(false);
        var open = _context.Metrics.ActiveConnections;
        _log.LogInformation("draining: listeners closed, {Open} connection(s) open, waiting up to {Deadline} s", open, deadline.TotalSeconds);
        while (open > 0 && System.Diagnostics.Stopwatch.GetElapsedTime(started) < deadline)
        {
            await Task.Delay(100).ConfigureAwait(false);
            open = _context.Metrics.ActiveConnections;
        }
        if (open > 0)
            _log.LogWarning("drain deadline of {Deadline} s reached: cutting {Open} connection(s)", deadline.TotalSeconds, open);
        else
            _log.LogInformation("drained in {Seconds:F1} s", System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalSeconds);
        return open;
    }

    private async Task StartKubernetesAsync(ConfigStore store, CancellationToken cancellationToken)
    {
        try
        {
            _kubernetes = await Ambient.Discovery.Kubernetes.KubernetesSource.ConnectAsync(_options.Kubeconfig, store, _logs.CreateLogger("kubernetes"), TimeSpan.FromSeconds(60), cancellationToken).ConfigureAwait(false);
        }
        catch (Ambient.Discovery.Kubernetes.KubernetesUnavailableException e)
        {
            throw new DaemonStartException(e.Message);
        }
    }

    /// <summary>
    /// Brings the served set in line with the config: listeners for new local workloads, none for removed ones,
    /// rebinding when an address changed.
    /// </summary>
    private async Task ReconcileAsync(MeshSnapshot snapshot, bool throwOnError)
    {
        await _reconcile.WaitAsync().ConfigureAwait(false);
        try
        {
            var wanted = new Dictionary<string, Workload>();
            foreach (var w in snapshot.Config.Workloads)
                if (_options.Workloads.Count > 0 ? _options.Workloads.Contains($"{w.Namespace}/{w.Name}") : w.Node == _options.Node && !w.IsWaypointProxy)
                    wanted[w.Uid] = w; // a waypoint's pod on this node serves its own HBONE port
            if (_options.Workloads.Count > 0)
                foreach (var name in _options.Workloads)
                    if (!wanted.Values.Any(w => $"{w.Namespace}/{w.Name}" == name))
                        _log.LogWarning("--workload {Workload} is not in the config", name);

            foreach (var (uid, listeners) in _served.ToArray())
            {
                if (wanted.TryGetValue(uid, out var w) && w.Addresses[0].Equals(listeners.Address))
                {
                    listeners.Update(w);
                    continue;
                }
                await listeners.DisposeAsync().ConfigureAwait(false);
                _served.Remove(uid);
                _log.LogInformation("stopped serving workload {Workload}", uid);
            }
            foreach (var (uid, w) in wanted)
            {
                if (_served.ContainsKey(uid))
                    continue;
                var listeners = new WorkloadListeners(_context!, w);
                try
                {
                    await listeners.StartAsync().ConfigureAwait(false);
                }
                catch (Exception e) when (e is IOException or CertificateUnavailableException)
                {
                    if (throwOnError)
                        throw new DaemonStartException($"workload {w.Namespace}/{w.Name}: {e.Message}");
                    _log.LogError("cannot serve workload {Workload}: {Error}", uid, e.Message);
                    continue;
                }
                _served[uid] = listeners;
                _log.LogInformation("serving workload {Workload} ({Identity}) on {Address}", uid, w.Identity, w.Addresses[0]);
            }
        }
        finally
        {
            _reconcile.Release();
        }
    }

    /// <summary>
    /// Runs one socket operation before anything else so the runtime's socket engine starts in the host network
    /// namespace (DESIGN.md §8): later in-pod threads must not be where it is born.
    /// </summary>
    private static async Task WarmUpSocketEngineAsync()
    {
        using var a = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        a.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        a.Listen(1);
        using var b = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await b.ConnectAsync(a.LocalEndPoint!).ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        _ready = false;
        _watcher?.Dispose();
        if (_kubernetes is not null)
            await _kubernetes.DisposeAsync().ConfigureAwait(false);
        foreach (var server in new[] { _readiness, _metrics, _admin })
            if (server is not null)
                await server.DisposeAsync().ConfigureAwait(false);
        if (_agentServer is not null)
            await _agentServer.DisposeAsync().ConfigureAwait(false);
        if (_inPod is not null)
            await _inPod.DisposeAsync().ConfigureAwait(false);
        foreach (var l in _served.Values)
            await l.DisposeAsync().ConfigureAwait(false);
        _served.Clear();
        if (_context is not null)
        {
            await _context.Hbone.DisposeAsync().ConfigureAwait(false);
            await _context.Certificates.DisposeAsync().ConfigureAwait(false);
        }
        _ca?.Dispose();
    }
}

/// <summary>The daemon cannot start; the message says why and what to fix.</summary>
public sealed class DaemonStartException(string message) : Exception(message);

using System.Threading.Channels;
using Ambient.Config;
using k8s;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Ambient.Discovery.Kubernetes;

/// <summary>
/// Keeps a <see cref="ConfigStore"/> in sync with a Kubernetes cluster: lists and watches Namespaces, Pods, Services,
/// EndpointSlices, waypoint Gateways and Istio AuthorizationPolicies/PeerAuthentications (one
/// <see cref="ResourceReflector"/> each, resuming from resourceVersions, relisting on 410 Gone, backing off on errors),
/// and after every change that matters (debounced) rebuilds the whole <see cref="MeshConfig"/> from the caches and
/// publishes it with the next generation.
/// <para>
/// Nothing is published until every resource has been listed once, so the data path never sees, say, pods without the
/// policies that guard them. While the API server is unreachable the caches and the last published snapshot stay as they
/// are; when it is back, the watches resume (or relist) and the snapshot catches up.
/// </para>
/// </summary>
public sealed class KubernetesSource : IAsyncDisposable
{
    private readonly KubernetesApiClient _api;
    private readonly ILogger _logger;
    private readonly KubernetesSourceOptions _options;
    private readonly ResourceReflector[] _reflectors;
    private readonly Channel<bool> _changes = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });
    private readonly TaskCompletionSource _initialSync = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Dictionary<(string Kind, string Object), ReportedObject> _reported = [];
    private readonly CancellationTokenSource _stop = new();
    private Task? _running;
    private long _generation;
    private volatile IReadOnlyList<ObjectRejection> _problems = [];
    private int _disposed;

    private KubernetesSource(KubernetesApiClient api, ConfigStore store, ILogger logger, KubernetesSourceOptions options)
    {
        _api = api;
        Store = store;
        _logger = logger;
        _options = options;
        _reflectors = [.. KubernetesResource.All.Select(r => new ResourceReflector(r, api, options, logger, SignalChange))];
    }

    /// <summary>
    /// A source for the cluster described by <paramref name="configuration"/> (see <see cref="LoadConfiguration"/>),
    /// publishing into <paramref name="store"/>. Nothing is contacted before <see cref="StartAsync"/>.
    /// </summary>
    public static KubernetesSource Create(KubernetesClientConfiguration configuration, ConfigStore store, ILogger? logger = null, KubernetesSourceOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        ArgumentNullException.ThrowIfNull(store);
        options ??= new KubernetesSourceOptions();
        options.Validate();
        return new KubernetesSource(new KubernetesApiClient(configuration), store, logger ?? NullLogger.Instance, options);
    }

    /// <summary>
    /// Client configuration the usual way: the kubeconfig at <paramref name="kubeconfigPath"/> when given; else the
    /// first file named by <c>$KUBECONFIG</c>; else, inside a pod, its service account (API server from
    /// <c>KUBERNETES_SERVICE_HOST</c>, token re-read as it rotates, cluster CA); else <c>~/.kube/config</c>.
    /// <paramref name="context"/> picks a kubeconfig context other than the current one.
    /// Throws <see cref="k8s.Exceptions.KubeConfigException"/> when no usable configuration is found.
    /// </summary>
    /// <summary>
    /// What a process does with <c>--kubernetes</c>: load the client configuration, start list/watch into
    /// <paramref name="store"/>, and wait for every resource's first list.
    /// </summary>
    /// <exception cref="KubernetesUnavailableException">No configuration, or no initial sync within <paramref name="syncTimeout"/>; the message says which.</exception>
    public static async Task<KubernetesSource> ConnectAsync(string? kubeconfig, ConfigStore store, ILogger logger, TimeSpan syncTimeout, CancellationToken cancellationToken = default)
    {
        KubernetesSource source;
        try
        {
            source = Create(LoadConfiguration(kubeconfig), store, logger);
        }
        catch (Exception e) when (e is k8s.Exceptions.KubeConfigException or IOException or FormatException or System.Security.Cryptography.CryptographicException)
        {
            throw new KubernetesUnavailableException($"no usable Kubernetes configuration: {e.Message}");
        }
        await source.StartAsync().ConfigureAwait(false);
        try
        {
            await source.WaitForInitialSyncAsync().WaitAsync(syncTimeout, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            await source.DisposeAsync().ConfigureAwait(false);
            throw;
        }
        catch (TimeoutException)
        {
            var pending = string.Join("; ", source.Resources.Where(r => !r.Synced).Select(r => $"{r.Kind}: {r.LastError}"));
            await source.DisposeAsync().ConfigureAwait(false);
            throw new KubernetesUnavailableException($"the Kubernetes API did not sync within {syncTimeout.TotalSeconds:0} s: {pending}");
        }
        return source;
    }

    public static KubernetesClientConfiguration LoadConfiguration(string? kubeconfigPath = null, string? context = null)
    {
        if (string.IsNullOrEmpty(kubeconfigPath))
        {
            var fromEnvironment = Environment.GetEnvironmentVariable("KUBECONFIG")?
                .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries).FirstOrDefault();
            if (fromEnvironment is not null) kubeconfigPath = fromEnvironment;
            else if (context is null && KubernetesClientConfiguration.IsInCluster()) return KubernetesClientConfiguration.InClusterConfig();
            else kubeconfigPath = KubernetesClientConfiguration.KubeConfigDefaultLocation;
        }
        return KubernetesClientConfiguration.BuildConfigFromConfigFile(kubeconfigPath, context);
    }

    public ConfigStore Store { get; }

    /// <summary>The API server.</summary>
    public Uri Server => _api.BaseUri;

    /// <summary>True once the first config built from a full list of every resource was published.</summary>
    public bool HasSynced => _initialSync.Task.IsCompletedSuccessfully;

    /// <summary>Objects currently left out of the config (or applied with a caveat), as of the last rebuild.</summary>
    public IReadOnlyList<ObjectRejection> Problems => _problems;

    /// <summary>Where each resource's list/watch stands.</summary>
    public IReadOnlyList<KubernetesResourceStatus> Resources => [.. _reflectors.Select(r => r.Status)];

    /// <summary>
    /// Starts listing and watching in the background and returns at once. Use <see cref="WaitForInitialSyncAsync"/> to
    /// wait for the first published config.
    /// </summary>
    public Task StartAsync(CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        cancellationToken.ThrowIfCancellationRequested();
        if (_running is not null) throw new InvalidOperationException("KubernetesSource already started");
        var token = _stop.Token;
        _running = Task.WhenAll(_reflectors.Select(r => Task.Run(() => r.RunAsync(token), CancellationToken.None))
            .Append(Task.Run(() => RebuildLoopAsync(token), CancellationToken.None)));
        return Task.CompletedTask;
    }

    /// <summary>Completes when the first config has been published (every resource listed at least once).</summary>
    public Task WaitForInitialSyncAsync(CancellationToken cancellationToken = default) => _initialSync.Task.WaitAsync(cancellationToken);

    private void SignalChange() => _changes.Writer.TryWrite(true);

    private async Task RebuildLoopAsync(CancellationToken cancellationToken)
    {
        try
        {
            while (await _changes.Reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
            {
                _changes.Reader.TryRead(out _);
                if (!_reflectors.All(r => r.HasSynced)) continue; // the last first-list signals again
                await Task.Delay(_options.DebounceDelay, cancellationToken).ConfigureAwait(false);
                _changes.Reader.TryRead(out _); // changes during the quiet time are in this rebuild
                Rebuild();
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }

    private void Rebuild()
    {
        KubernetesBuildResult result;
        try
        {
            var objects = new KubernetesObjects
            {
                Namespaces = Cache(KubernetesResource.Namespaces),
                Pods = Cache(KubernetesResource.Pods),
                Services = Cache(KubernetesResource.Services),
                EndpointSlices = Cache(KubernetesResource.EndpointSlices),
                Gateways = Cache(KubernetesResource.Gateways),
                AuthorizationPolicies = Cache(KubernetesResource.AuthorizationPolicies),
                PeerAuthentications = Cache(KubernetesResource.PeerAuthentications),
                HttpRoutes = Cache(KubernetesResource.HttpRoutes),
                GrpcRoutes = Cache(KubernetesResource.GrpcRoutes),
                DestinationRules = Cache(KubernetesResource.DestinationRules),
                RequestAuthentications = Cache(KubernetesResource.RequestAuthentications),
            };
            result = KubernetesMeshBuilder.Build(objects, _options);
        }
        catch (Exception e)
        {
            _logger.RebuildFailed(e, Store.Current.Generation);
            return;
        }
        ReportProblems(result);
        _problems = result.Problems;

        var generation = Math.Max(_generation, Store.Current.Generation) + 1;
        var config = result.Config with { Generation = generation, Source = $"kubernetes {_api.BaseUri}" };
        _generation = generation;
        try
        {
            Store.Update(config);
        }
        catch (AggregateException e)
        {
            _logger.SubscriberFailed(e, generation); // the snapshot is published; only a subscriber failed
        }
        _logger.Published(generation, config.Workloads.Length, config.Services.Length, config.AuthorizationPolicies.Length,
            config.PeerAuthentications.Length, result.RejectedObjects);
        _initialSync.TrySetResult();
    }

    private System.Collections.Immutable.ImmutableArray<CachedObject> Cache(KubernetesResource resource) =>
        _reflectors.First(r => r.Resource == resource).Cache.Snapshot();

    /// <summary>Logs each problem once (again only if its message changes), and notes rejected objects that are fine again.</summary>
    private void ReportProblems(KubernetesBuildResult result)
    {
        var current = new Dictionary<(string Kind, string Object), ReportedObject>();
        foreach (var problem in result.Problems)
        {
            var key = (problem.Kind, problem.ObjectName);
            if (!current.TryGetValue(key, out var entry)) current[key] = entry = new ReportedObject();
            entry.Rejected |= problem.Rejected;
            entry.Messages[problem.Field] = problem.Message;
            if (_reported.TryGetValue(key, out var previous) && previous.Messages.TryGetValue(problem.Field, out var message) && message == problem.Message) continue;
            if (problem.Rejected) _logger.ObjectRejected(problem.Kind, problem.ObjectName, problem.Field, problem.Message);
            else _logger.ObjectWarning(problem.Kind, problem.ObjectName, problem.Field, problem.Message);
        }
        foreach (var (key, previous) in _reported)
        {
            if (previous.Rejected && !current.ContainsKey(key)) _logger.ObjectAccepted(key.Kind, key.Object);
        }
        _reported = current;
    }

    private sealed class ReportedObject
    {
        public bool Rejected;
        public Dictionary<string, string> Messages { get; } = new(StringComparer.Ordinal);
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        await _stop.CancelAsync().ConfigureAwait(false);
        if (_running is not null)
        {
            try
            {
                await _running.ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
            }
        }
        _initialSync.TrySetCanceled();
        _api.Dispose();
        _stop.Dispose();
    }
}

/// <summary>The Kubernetes API cannot be used (no configuration, or it never answered); the message says why.</summary>
public sealed class KubernetesUnavailableException(string message) : Exception(message);

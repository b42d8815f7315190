using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Ambient.Tests.Kubernetes;

/// <summary>
/// An in-process Kubernetes API server (Kestrel, plain HTTP on 127.0.0.1) speaking the real list/watch protocol for
/// the resources the Kubernetes source uses:
/// <list type="bullet">
/// <item><c>GET /api/v1/pods?limit=&amp;continue=</c>: a <c>PodList</c> with <c>metadata.resourceVersion</c> (and
/// <c>continue</c> tokens when paginated); items carry no kind/apiVersion, as real core lists don't;</item>
/// <item><c>GET ...?watch=true&amp;resourceVersion=N&amp;allowWatchBookmarks=true&amp;timeoutSeconds=S</c>: a chunked stream
/// of <c>{"type":...,"object":...}</c> lines, replaying history after N, then live events;</item>
/// <item>a resourceVersion older than the compacted history gets 410 Gone, as an HTTP 410 or as a 200 with an ERROR
/// event (<see cref="GoneAsErrorEvent"/>), both with a <c>Status</c> object, like kube-apiserver.</item>
/// </list>
/// The test drives it: <see cref="Apply"/>/<see cref="Delete"/> objects (events to open watches), send bookmarks, drop
/// or expire watches, compact history, fail requests with 500, or stop listening altogether and come back on the same
/// port. Every request is recorded with its query for assertions.
/// </summary>
public sealed class FakeApiServer : IAsyncDisposable
{
    private readonly Lock _lock = new();
    private readonly Dictionary<string, ResourceState> _byPath = new(StringComparer.Ordinal);
    private readonly Dictionary<string, ResourceState> _byKind = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<ApiRequest> _requests = new();
    private WebApplication? _app;
    private long _resourceVersion = 1000;
    private long _compactedBefore;
    private int _port;

    private FakeApiServer()
    {
        Register("Namespace", "v1", "namespaces", namespaced: false);
        Register("Pod", "v1", "pods", namespaced: true);
        Register("Service", "v1", "services", namespaced: true);
        Register("EndpointSlice", "discovery.k8s.io/v1", "endpointslices", namespaced: true);
        Register("Gateway", "gateway.networking.k8s.io/v1", "gateways", namespaced: true);
        Register("AuthorizationPolicy", "security.istio.io/v1", "authorizationpolicies", namespaced: true);
        Register("PeerAuthentication", "security.istio.io/v1", "peerauthentications", namespaced: true);
        Register("HTTPRoute", "gateway.networking.k8s.io/v1", "httproutes", namespaced: true);
        Register("GRPCRoute", "gateway.networking.k8s.io/v1", "grpcroutes", namespaced: true);
        Register("DestinationRule", "networking.istio.io/v1", "destinationrules", namespaced: true);
        Register("RequestAuthentication", "security.istio.io/v1", "requestauthentications", namespaced: true);
    }

    public static async Task<FakeApiServer> StartAsync()
    {
        var server = new FakeApiServer();
        await server.ListenAsync(0);
        return server;
    }

    public string Url => $"http://127.0.0.1:{_port}";

    /// <summary>A client configuration for this server (plain HTTP, no credentials).</summary>
    public k8s.KubernetesClientConfiguration ClientConfiguration => new() { Host = Url };

    /// <summary>Writes a kubeconfig whose current context is this server (bearer token "t"), as processes in a cluster are given.</summary>
    public string WriteKubeconfig(string directory)
    {
        var path = Path.Combine(directory, "kubeconfig");
        File.WriteAllText(path, $$"""
            apiVersion: v1
            kind: Config
            clusters:
            - name: fake
              cluster:
                server: "{{Url}}"
            contexts:
            - name: fake
              context:
                cluster: fake
                user: mesh
            current-context: fake
            users:
            - name: mesh
              user:
                token: t
            """);
        return path;
    }

    /// <summary>Answer every request with 500 (a Status object), as an overloaded or broken API server would.</summary>
    public bool FailAll { get; set; }

    /// <summary>Too-old resourceVersions on watch get 200 + an ERROR event instead of HTTP 410.</summary>
    public bool GoneAsErrorEvent { get; set; }

    /// <summary>The current (global) resourceVersion.</summary>
    public long ResourceVersion
    {
        get { lock (_lock) return _resourceVersion; }
    }

    public IReadOnlyList<ApiRequest> Requests => [.. _requests];

    public IEnumerable<ApiRequest> RequestsFor(string plural) => Requests.Where(r => r.Plural == plural);

    /// <summary>Fail (500) requests for one resource only; or make it not served at all (404, as when its CRD is missing).</summary>
    public void SetResourceFault(string plural, ResourceFault fault)
    {
        lock (_lock) _byPath.Values.Single(r => r.Plural == plural).Fault = fault;
    }

    // ---- objects -------------------------------------------------------------------------------------------------

    /// <summary>Creates or replaces an object (by kind + namespace + name), sending ADDED/MODIFIED to open watches.</summary>
    public JsonObject Apply(JsonObject obj)
    {
        lock (_lock)
        {
            var resource = ResourceOf(obj);
            var key = Key(resource, obj);
            var stored = (JsonObject)obj.DeepClone();
            var metadata = (JsonObject)stored["metadata"]!;
            var existing = resource.Objects.GetValueOrDefault(key);
            metadata["resourceVersion"] = (++_resourceVersion).ToString(CultureInfo.InvariantCulture);
            metadata["uid"] ??= existing?["metadata"]?["uid"]?.GetValue<string>() ?? Guid.NewGuid().ToString();
            metadata["creationTimestamp"] ??= existing?["metadata"]?["creationTimestamp"]?.GetValue<string>()
                                            ?? DateTime.UtcNow.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture);
            stored["apiVersion"] = resource.ApiVersion;
            stored["kind"] = resource.Kind;
            resource.Objects[key] = stored;
            Publish(resource, existing is null ? "ADDED" : "MODIFIED", stored);
            return (JsonObject)stored.DeepClone();
        }
    }

    public void ApplyAll(IEnumerable<JsonObject> objects)
    {
        foreach (var obj in objects) Apply(obj);
    }

    /// <summary>Deletes an object, sending DELETED (with a new resourceVersion) to open watches. False when absent.</summary>
    public bool Delete(string kind, string? ns, string name)
    {
        lock (_lock)
        {
            var resource = _byKind[kind];
            var key = resource.Namespaced ? $"{ns}/{name}" : name;
            if (!resource.Objects.Remove(key, out var old)) return false;
            var deleted = (JsonObject)old.DeepClone();
            deleted["metadata"]!["resourceVersion"] = (++_resourceVersion).ToString(CultureInfo.InvariantCulture);
            Publish(resource, "DELETED", deleted);
            return true;
        }
    }

    public JsonObject? Get(string kind, string? ns, string name)
    {
        lock (_lock)
        {
            var resource = _byKind[kind];
            return resource.Objects.GetValueOrDefault(resource.Namespaced ? $"{ns}/{name}" : name)?.DeepClone() as JsonObject;
        }
    }

    /// <summary>Advances the resourceVersion as if other, unwatched objects changed.</summary>
    public long AdvanceResourceVersion(int by)
    {
        lock (_lock) return _resourceVersion += by;
    }

    /// <summary>Forgets the history up to now: watches from any older resourceVersion (and old continue tokens) get 410 Gone.</summary>
    public void Compact()
    {
        lock (_lock)
        {
            _compactedBefore = _resourceVersion;
            foreach (var resource in _byPath.Values) resource.History.Clear();
        }
    }

    // ---- watch control -------------------------------------------------------------------------------------------

    public int OpenWatches(string plural)
    {
        lock (_lock) return _byPath.Values.Single(r => r.Plural == plural).Watches.Count;
    }

    /// <summary>Sends a BOOKMARK at the current resourceVersion to the watches of <paramref name="plural"/> that asked for bookmarks.</summary>
    public long Bookmark(string plural)
    {
        lock (_lock)
        {
            var resource = _byPath.Values.Single(r => r.Plural == plural);
            var line = new JsonObject
            {
                ["type"] = "BOOKMARK",
                ["object"] = new JsonObject
                {
                    ["kind"] = resource.Kind,
                    ["apiVersion"] = resource.ApiVersion,
                    ["metadata"] = new JsonObject { ["resourceVersion"] = _resourceVersion.ToString(CultureInfo.InvariantCulture) },
                },
            }.ToJsonString();
            foreach (var watch in resource.Watches.Where(w => w.Bookmarks)) watch.Lines.Writer.TryWrite(line);
            return _resourceVersion;
        }
    }

    /// <summary>Ends the open watches (of one resource, or all): cleanly (end of the chunked stream) or by resetting the connection.</summary>
    public void DropWatches(string? plural = null, bool abort = false)
    {
        lock (_lock)
        {
            foreach (var resource in _byPath.Values.Where(r => plural is null || r.Plural == plural))
            {
                foreach (var watch in resource.Watches)
                {
                    if (abort) watch.Abort.Cancel();
                    watch.Lines.Writer.TryComplete();
                }
            }
        }
    }

    /// <summary>Sends an ERROR event with a 410 Expired Status on the open watches of <paramref name="plural"/>, then ends them.</summary>
    public void ExpireWatches(string plural)
    {
        lock (_lock)
        {
            var resource = _byPath.Values.Single(r => r.Plural == plural);
            var line = new JsonObject { ["type"] = "ERROR", ["object"] = Status(410, "Expired", "too old resource version") }.ToJsonString();
            foreach (var watch in resource.Watches)
            {
                watch.Lines.Writer.TryWrite(line);
                watch.Lines.Writer.TryComplete();
            }
        }
    }

    // ---- lifecycle -----------------------------------------------------------------------------------------------

    /// <summary>Stops listening (clients get connection refused); <see cref="RestartAsync"/> comes back on the same port with the same objects.</summary>
    public async Task StopAsync()
    {
        DropWatches(abort: true);
        if (_app is { } app)
        {
            _app = null;
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            await app.StopAsync(timeout.Token);
            await app.DisposeAsync();
        }
    }

    public async Task RestartAsync()
    {
        if (_app is not null) return;
        await ListenAsync(_port);
    }

    public async ValueTask DisposeAsync() => await StopAsync();

    private async Task ListenAsync(int port)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(options => options.Listen(IPAddress.Loopback, port));
        var app = builder.Build();
        app.Run(HandleAsync);
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        _port = new Uri(address).Port;
        _app = app;
    }

    // ---- protocol ------------------------------------------------------------------------------------------------

    private async Task HandleAsync(HttpContext context)
    {
        var path = context.Request.Path.Value!.Trim('/');
        var query = context.Request.Query.ToDictionary(q => q.Key, q => q.Value.ToString(), StringComparer.Ordinal);
        var watch = query.GetValueOrDefault("watch") == "true";
        ResourceState? resource;
        lock (_lock) resource = _byPath.GetValueOrDefault(path);
        var request = new ApiRequest(DateTime.UtcNow, path, resource?.Plural ?? path, watch, query.GetValueOrDefault("resourceVersion"), query)
        {
            Authorization = context.Request.Headers.Authorization.ToString(),
            UserAgent = context.Request.Headers.UserAgent.ToString(),
        };
        _requests.Enqueue(request);

        if (context.Request.Method != "GET")
        {
            await WriteStatusAsync(context, 405, "MethodNotAllowed", "only GET is served");
            return;
        }
        if (FailAll || resource?.Fault == ResourceFault.Error)
        {
            await WriteStatusAsync(context, 500, "InternalError", "the fake API server was told to fail");
            return;
        }
        if (resource is null || resource.Fault == ResourceFault.NotServed)
        {
            await WriteStatusAsync(context, 404, "NotFound", $"the server could not find the requested resource ({path})");
            return;
        }
        if (watch) await WatchAsync(context, resource, query);
        else await ListAsync(context, resource, query);
    }

    private async Task ListAsync(HttpContext context, ResourceState resource, Dictionary<string, string> query)
    {
        JsonObject list;
        var gone = false;
        lock (_lock)
        {
            var listVersion = _resourceVersion;
            var offset = 0;
            if (query.TryGetValue("continue", out var token) && token.Length > 0)
            {
                var parts = Encoding.UTF8.GetString(Convert.FromBase64String(token)).Split(':');
                listVersion = long.Parse(parts[0], CultureInfo.InvariantCulture);
                offset = int.Parse(parts[1], CultureInfo.InvariantCulture);
                gone = listVersion < _compactedBefore;
            }
            var all = resource.Objects.Values.ToList();
            var limit = query.TryGetValue("limit", out var l) && int.TryParse(l, CultureInfo.InvariantCulture, out var n) && n > 0 ? n : int.MaxValue;
            var page = all.Skip(offset).Take(limit).ToList();
            var metadata = new JsonObject { ["resourceVersion"] = listVersion.ToString(CultureInfo.InvariantCulture) };
            if (offset + page.Count < all.Count)
            {
                metadata["continue"] = Convert.ToBase64String(Encoding.UTF8.GetBytes($"{listVersion}:{offset + page.Count}"));
                metadata["remainingItemCount"] = all.Count - offset - page.Count;
            }
            var items = new JsonArray();
            foreach (var item in page)
            {
                var copy = (JsonObject)item.DeepClone();
                if (!resource.ApiVersion.Contains('.')) // core lists carry no kind/apiVersion per item
                {
                    copy.Remove("kind");
                    copy.Remove("apiVersion");
                }
                items.Add(copy);
            }
            list = gone
                ? Status(410, "Expired", "The provided continue parameter is too old to display a consistent list result.")
                : new JsonObject { ["kind"] = resource.Kind + "List", ["apiVersion"] = resource.ApiVersion, ["metadata"] = metadata, ["items"] = items };
        }
        await WriteJsonAsync(context, gone ? 410 : 200, list);
    }

    private async Task WatchAsync(HttpContext context, ResourceState resource, Dictionary<string, string> query)
    {
        var from = query.GetValueOrDefault("resourceVersion") ?? "";
        var bookmarks = query.GetValueOrDefault("allowWatchBookmarks") == "true";
        var timeout = query.TryGetValue("timeoutSeconds", out var t) && int.TryParse(t, CultureInfo.InvariantCulture, out var seconds)
            ? TimeSpan.FromSeconds(seconds)
            : TimeSpan.FromMinutes(30);
        var connection = new WatchConnection(bookmarks);
        var replay = new List<string>();
        lock (_lock)
        {
            if (from is "" or "0")
            {
                foreach (var obj in resource.Objects.Values) replay.Add(Event("ADDED", obj));
            }
            else
            {
                var version = long.Parse(from, CultureInfo.InvariantCulture);
                if (version < _compactedBefore)
                {
                    var status = Status(410, "Expired", $"too old resource version: {version} ({_compactedBefore})");
                    if (!GoneAsErrorEvent)
                    {
                        connection = null;
                        replay.Add(status.ToJsonString());
                    }
                    else
                    {
                        replay.Add(new JsonObject { ["type"] = "ERROR", ["object"] = status }.ToJsonString());
                        connection.Lines.Writer.TryComplete();
                    }
                }
                else
                {
                    replay.AddRange(resource.History.Where(h => h.Version > version).Select(h => h.Line));
                }
            }
            if (connection is not null && !connection.Lines.Reader.Completion.IsCompleted) resource.Watches.Add(connection);
        }
        if (connection is null)
        {
            context.Response.StatusCode = 410;
            context.Response.ContentType = "application/json";
            await context.Response.WriteAsync(replay[0]);
            return;
        }

        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, connection.Abort.Token);
        deadline.CancelAfter(timeout);
        try
        {
            context.Response.ContentType = "application/json";
            await context.Response.StartAsync(deadline.Token);
            foreach (var line in replay) await WriteLineAsync(context, line, deadline.Token);
            await context.Response.Body.FlushAsync(deadline.Token);
            await foreach (var line in connection.Lines.Reader.ReadAllAsync(deadline.Token))
            {
                await WriteLineAsync(context, line, deadline.Token);
                await context.Response.Body.FlushAsync(deadline.Token);
            }
        }
        catch (OperationCanceledException)
        {
            // timeout (clean end), client gone, or abort requested (below)
        }
        finally
        {
            lock (_lock) resource.Watches.Remove(connection);
        }
        if (connection.Abort.IsCancellationRequested) context.Abort();
    }

    private static async Task WriteLineAsync(HttpContext context, string line, CancellationToken cancellationToken)
    {
        var bytes = Encoding.UTF8.GetBytes(line + "\n");
        await context.Response.Body.WriteAsync(bytes, cancellationToken);
    }

    private void Publish(ResourceState resource, string type, JsonObject obj)
    {
        var line = Event(type, obj);
        resource.History.Add((_resourceVersion, line));
        foreach (var watch in resource.Watches) watch.Lines.Writer.TryWrite(line);
    }

    private static string Event(string type, JsonObject obj) => new JsonObject { ["type"] = type, ["object"] = obj.DeepClone() }.ToJsonString();

    private static JsonObject Status(int code, string reason, string message) => new()
    {
        ["kind"] = "Status",
        ["apiVersion"] = "v1",
        ["metadata"] = new JsonObject(),
        ["status"] = "Failure",
        ["message"] = message,
        ["reason"] = reason,
        ["code"] = code,
    };

    private static Task WriteStatusAsync(HttpContext context, int code, string reason, string message) =>
        WriteJsonAsync(context, code, Status(code, reason, message));

    private static async Task WriteJsonAsync(HttpContext context, int code, JsonObject body)
    {
        context.Response.StatusCode = code;
        context.Response.ContentType = "application/json";
        await context.Response.WriteAsync(body.ToJsonString());
    }

    private void Register(string kind, string apiVersion, string plural, bool namespaced)
    {
        var path = apiVersion.Contains('/') ? $"apis/{apiVersion}/{plural}" : $"api/{apiVersion}/{plural}";
        var state = new ResourceState(kind, apiVersion, plural, namespaced);
        _byPath[path] = state;
        _byKind[kind] = state;
    }

    private ResourceState ResourceOf(JsonObject obj)
    {
        var kind = obj["kind"]?.GetValue<string>() ?? throw new ArgumentException("object has no kind");
        return _byKind.TryGetValue(kind, out var resource) ? resource : throw new ArgumentException($"kind {kind} is not served");
    }

    private static string Key(ResourceState resource, JsonObject obj)
    {
        var metadata = obj["metadata"] as JsonObject ?? throw new ArgumentException("object has no metadata");
        var name = metadata["name"]!.GetValue<string>();
        return resource.Namespaced ? $"{metadata["namespace"]!.GetValue<string>()}/{name}" : name;
    }

    private sealed class ResourceState(string kind, string apiVersion, string plural, bool namespaced)
    {
        public string Kind { get; } = kind;
        public string ApiVersion { get; } = apiVersion;
        public string Plural { get; } = plural;
        public bool Namespaced { get; } = namespaced;
        public SortedDictionary<string, JsonObject> Objects { get; } = new(StringComparer.Ordinal);
        public List<(long Version, string Line)> History { get; } = [];
        public List<WatchConnection> Watches { get; } = [];
        public ResourceFault Fault { get; set; }
    }

    private sealed class WatchConnection(bool bookmarks)
    {
        public bool Bookmarks { get; } = bookmarks;
        public Channel<string> Lines { get; } = Channel.CreateUnbounded<string>();
        public CancellationTokenSource Abort { get; } = new();
    }
}

public enum ResourceFault
{
    None,

    /// <summary>Requests for the resource get 500.</summary>
    Error,

    /// <summary>The resource is not served (404), as when its CRD is not installed.</summary>
    NotServed,
}

/// <summary>One request the fake API server received.</summary>
public sealed record ApiRequest(DateTime Time, string Path, string Plural, bool Watch, string? ResourceVersion, IReadOnlyDictionary<string, string> Query)
{
    public string Authorization { get; init; } = "";
    public string UserAgent { get; init; } = "";
}

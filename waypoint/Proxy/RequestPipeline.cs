using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using Ambient.Config;
using Ambient.Config.Routes;
using Ambient.LoadBalancing;
using Ambient.Observability.Metrics;
using Ambient.Waypoint.Forwarding;
using Ambient.Waypoint.Resilience;
using Ambient.Waypoint.Routing;
using Ambient.Waypoint.Security;
using Ambient.Waypoint.Telemetry;
using Ambient.Waypoint.Transport;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Logging;
using Yarp.ReverseProxy.Forwarder;

namespace Ambient.Waypoint.Proxy;

/// <summary>
/// Everything the waypoint does to one request, in Envoy's order: find the destination (the VIP or workload the
/// client dialled), authenticate the JWT (401), authorize (403), match routes (404 when a service has routes and none
/// match), rate limit (429), inject faults, redirect or forward to a weighted backend with circuit breaking (503
/// overflow), outlier detection, retries and timeouts (504); then metrics and one access-log line.
/// </summary>
/// <param name="clients">One HBONE HTTP client per destination service (its connection pool and limit).</param>
/// <param name="log">Diagnostics beside the access log (debug: bodies too large to retry or mirror).</param>
public sealed partial class RequestPipeline(WaypointRuntime runtime, HboneForwarder forwarder, UpstreamClients clients, ILogger accessLog, ILogger? log = null)
{
    /// <summary>A shadow request that has not answered by then is abandoned.</summary>
    private static readonly TimeSpan MirrorTimeout = TimeSpan.FromSeconds(10);

    private const string OverflowBody = "upstream connect error or disconnect/reset before headers. reset reason: overflow";

    private readonly ILogger _log = log ?? Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance;

    // Keyed by address, port, identity and protocol (no IPEndPoint built per lookup).
    private readonly ConcurrentDictionary<(IPAddress, int, string, UpstreamProtocol), UpstreamEndpoint> _upstreams = new();

    public async Task HandleAsync(HttpContext context)
    {
        var started = Stopwatch.GetTimestamp();
        var state = runtime.State;
        var snapshot = state.Snapshot;
        var tunnel = context.Features.Get<IHboneTunnelFeature>();
        var outcome = new RequestOutcome();
        // Chunked and HTTP/2 bodies have no Content-Length to go by: count what passes (responses: see AttemptTransformer).
        CountingStream? requestBody = null;
        if (context.Request.ContentLength is null && HasBody(context) && !IsUpgrade(context))
        {
            requestBody = new CountingStream(context.Request.Body);
            context.Request.Body = requestBody;
        }
        try
        {
            if (tunnel is null)
            {
                await outcome.AnswerAsync(context, 400, "-", "not an HBONE tunnel").ConfigureAwait(false);
                return;
            }
            outcome.Source = SourceWorkload(snapshot, tunnel);
            await ProcessAsync(context, state, tunnel, outcome).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            outcome.Flags = "DC"; // downstream (client) went away
            if (!context.Response.HasStarted) context.Response.StatusCode = 499;
        }
        finally
        {
            var status = context.Response.StatusCode;
            var grpc = IsGrpc(context.Request);
            var key = new RequestKey(outcome.Source, tunnel?.SourceIdentity, outcome.Destination, outcome.Service, status, outcome.Flags, grpc,
                grpc ? GrpcStatus(context) : null);
            var series = runtime.RequestMetrics.For(key);
            var elapsed = Stopwatch.GetElapsedTime(started);
            series.Requests.Inc();
            series.DurationMilliseconds.Observe(elapsed.TotalMilliseconds);
            series.RequestBytes.Observe(requestBody?.Count ?? context.Request.ContentLength ?? 0);
            series.ResponseBytes.Observe(context.Features.Get<IHttpResponseBodyFeature>() is CountingResponseBody counted ? counted.Counter.Count
                : HttpMethods.IsHead(context.Request.Method) ? 0 : context.Response.ContentLength ?? 0);
            RequestLog.Completed(accessLog, context.Request.Method, context.Request.Path.Value ?? "/", context.Request.Protocol,
                status, outcome.Flags, tunnel?.SourceIdentity, tunnel?.OriginalClient?.ToString(), outcome.Service?.Hostname,
                outcome.Upstream?.ToString(), outcome.Route, outcome.Attempts, (long)elapsed.TotalMilliseconds, outcome.Detail,
                System.Diagnostics.Activity.Current?.TraceId.ToString());
        }
    }

    private async Task ProcessAsync(HttpContext context, WaypointState state, IHboneTunnelFeature tunnel, RequestOutcome outcome)
    {
        var snapshot = state.Snapshot;
        var target = tunnel.Target;
        var service = snapshot.ServiceByVip(target.Address, target.Port);
        var workload = service is null ? snapshot.WorkloadByAddress(target.Address) : null;
        if (service is null && workload is null)
        {
            await outcome.AnswerAsync(context, 404, "NR", $"no service or workload at {target}").ConfigureAwait(false);
            return;
        }
        outcome.Service = service;
        var scope = service is not null ? new NamespacedName(service.Namespace, service.Name) : new NamespacedName(workload!.Namespace, workload.Name);
        var head = Head(context.Request);

        var authentication = await state.AuthenticatorFor(scope).AuthenticateAsync(head, context.RequestAborted).ConfigureAwait(false);
        if (authentication.RejectStatusCode is { } rejected)
        {
            await outcome.AnswerAsync(context, rejected, "UAEX", "Jwt verification fails", authentication.Error).ConfigureAwait(false);
            return;
        }
        if (authentication.StripHeader is { } strip) context.Request.Headers.Remove(strip);
        if (!authentication.OutputHeaders.IsDefaultOrEmpty)
            foreach (var header in authentication.OutputHeaders) context.Request.Headers[header.Name] = header.Value;

        var facts = new RequestFacts(tunnel.SourceIdentity, tunnel.PeerEndPoint.Address, target.Address, target.Port, head, authentication.Identity, tunnel.OriginalClient?.Address);
        var verdict = L7Authorizer.Evaluate(state.PoliciesFor(scope), facts);
        if (!verdict.Allowed)
        {
            await outcome.AnswerAsync(context, 403, "UAEX", "RBAC: access denied", verdict.Reason).ConfigureAwait(false);
            return;
        }

        // Routing: a GRPCRoute for gRPC requests, else an HTTPRoute; a service with routes but no match is 404.
        ForwardPlan? plan = null;
        FaultInjection? fault = null;
        LocalRateLimit? rateLimit = null;
        string? routeKey = null;
        if (service is not null)
        {
            var routeService = new ServiceRouteKey(service.Namespace, service.Name);
            if (IsGrpc(context.Request) && state.GrpcRoutes.Match(routeService, target.Port, head) is { } grpc)
            {
                routeKey = $"{grpc.Route.Key}#{grpc.RuleIndex}";
                if (grpc.Backends.Pick(Random.Shared) is not { } backend)
                {
                    await outcome.AnswerAsync(context, RoutePlan.NoBackendStatusCode, "NR", "no backend with weight").ConfigureAwait(false);
                    return;
                }
                plan = GrpcPlan(grpc, backend, head);
            }
            else if (state.HttpRoutes.Match(routeService, target.Port, head) is { } selection)
            {
                routeKey = selection.Describe();
                fault = selection.Route.Fault;
                rateLimit = selection.Route.RateLimit;
                if (rateLimit is not null && runtime.RateLimits.For(selection.Route.Key, rateLimit) is { } bucket && !bucket.TryTake())
                {
                    await outcome.AnswerAsync(context, rateLimit.StatusCode, "RL", "local_rate_limited").ConfigureAwait(false);
                    return;
                }
                var routePlan = HttpRoutePlanner.Plan(selection, head, target.Port, Random.Shared);
                if (routePlan.Kind == RoutePlanKind.Redirect)
                {
                    context.Response.Headers.Location = routePlan.Redirect!.Value.Location;
                    await outcome.AnswerAsync(context, routePlan.Redirect.Value.StatusCode, "-", "").ConfigureAwait(false);
                    return;
                }
                if (routePlan.Kind == RoutePlanKind.NoBackend)
                {
                    await outcome.AnswerAsync(context, RoutePlan.NoBackendStatusCode, "NR", "no backend with weight").ConfigureAwait(false);
                    return;
                }
                plan = routePlan.Forward;
            }
            // Routes of the request's own kind decide: a GRPCRoute does not capture plain HTTP to the service.
            else if (state.HttpRoutes.HasRoutes(routeService, target.Port) || (IsGrpc(context.Request) && state.GrpcRoutes.HasRoutes(routeService, target.Port)))
            {
                await outcome.AnswerAsync(context, 404, "NR", $"no route of {service.Namespace}/{service.Name} matches").ConfigureAwait(false);
                return;
            }
        }
        outcome.Route = routeKey;

        if (fault is not null)
        {
            var decision = FaultDecision.Decide(fault, Random.Shared);
            if (decision.Delay > TimeSpan.Zero)
            {
                outcome.Flags = "DI";
                await Task.Delay(decision.Delay, context.RequestAborted).ConfigureAwait(false);
            }
            if (decision.AbortHttpStatus is { } abortStatus)
            {
                await outcome.AnswerAsync(context, abortStatus, "FI", "fault filter abort").ConfigureAwait(false);
                return;
            }
            if (decision.AbortGrpcStatus is { } grpcStatus)
            {
                context.Response.ContentType = "application/grpc";
                context.Response.Headers["grpc-status"] = grpcStatus.ToString(System.Globalization.CultureInfo.InvariantCulture);
                await outcome.AnswerAsync(context, 200, "FI", "").ConfigureAwait(false);
                return;
            }
        }

        var retry = plan?.Retry ?? RetryPolicy.Default;
        var originalBody = context.Request.Body;
        var body = KeepBody(context, retry, plan);
        try
        {
            if (plan is { Mirrors.IsEmpty: false }) Mirror(context, state, plan, target, body);
            await ForwardAsync(context, state, plan, retry, body, service, workload, target, outcome).ConfigureAwait(false);
            if (body is not null)
            {
                await ReadRestForMirrorsAsync(context, body).ConfigureAwait(false);
                if (body.Overflowed) LogBodyOverflowed(_log, context.Request.Method, context.Request.Path.Value ?? "/", ReplayableRequestBody.MaxBufferedBytes);
            }
        }
        finally
        {
            if (body is not null)
            {
                context.Request.Body = originalBody;
                await body.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    /// <summary>
    /// The upstream answered without reading the whole body: the mirrors still want it. A client that stops sending
    /// costs at most the mirror timeout (the client has its answer already).
    /// </summary>
    private static async Task ReadRestForMirrorsAsync(HttpContext context, ReplayableRequestBody body)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted);
        timeout.CancelAfter(MirrorTimeout);
        try
        {
            await body.ReadRestForMirrorsAsync(timeout.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or BadHttpRequestException)
        {
            // The mirrors go without (the body's completion says so); the client's answer is not affected.
        }
    }

    /// <summary>
    /// When the request may be sent again (the route retries, or mirrors it) and has a body, the body is kept as it
    /// streams (<see cref="ReplayableRequestBody"/>). A body declared larger than the limit is not: it is forwarded
    /// once, without retries or mirrors.
    /// </summary>
    private ReplayableRequestBody? KeepBody(HttpContext context, RetryPolicy retry, ForwardPlan? plan)
    {
        var request = context.Request;
        if (!HasBody(context) || IsUpgrade(context)) return null;
        if (retry.Retries == 0 && plan is not { Mirrors.IsEmpty: false }) return null;
        if (request.ContentLength is { } length && length > ReplayableRequestBody.MaxBufferedBytes)
        {
            LogBodyTooLarge(_log, request.Method, request.Path.Value ?? "/", length, ReplayableRequestBody.MaxBufferedBytes);
            return null;
        }
        var body = new ReplayableRequestBody(request.Body, request.ContentLength);
        request.Body = body;
        return body;
    }

    [LoggerMessage(EventId = 20, Level = LogLevel.Debug,
        Message = "request body of {Length} bytes is larger than the {Limit}-byte replay buffer: forwarded once, without retries or mirrors method={Method} path={Path}")]
    private static partial void LogBodyTooLarge(ILogger log, string method, string path, long length, int limit);

    [LoggerMessage(EventId = 21, Level = LogLevel.Debug,
        Message = "request body outgrew the {Limit}-byte replay buffer: forwarded once, without retries or mirrors method={Method} path={Path}")]
    private static partial void LogBodyOverflowed(ILogger log, string method, string path, int limit);

    /// <summary>
    /// RequestMirror: a copy of the request goes to each mirror backend, fire and forget; its answer is dropped and
    /// its failure costs the client nothing. Like Envoy, the copy's Host gets a <c>-shadow</c> suffix. A request
    /// with a body is copied once the body has been read whole (it is kept for this, up to
    /// <see cref="ReplayableRequestBody.MaxBufferedBytes"/>); a larger body is not mirrored.
    /// </summary>
    private void Mirror(HttpContext context, WaypointState state, ForwardPlan plan, IPEndPoint target, ReplayableRequestBody? body)
    {
        var request = context.Request;
        if (body is null && HasBody(context)) return; // too large to keep (logged by KeepBody)
        foreach (var mirror in plan.Mirrors)
        {
            if (state.Snapshot.ServiceByName(mirror.Namespace, mirror.Name) is not { } service) continue;
            var endpoints = state.Snapshot.EndpointsOf(service, mirror.Port ?? target.Port);
            if (endpoints.IsEmpty) continue;
            var pick = endpoints[Random.Shared.Next(endpoints.Length)];
            var upstream = Upstream(pick, UpstreamProtocol.Http1);
            var copy = new HttpRequestMessage(new HttpMethod(request.Method), upstream.DestinationPrefix + plan.Path + request.QueryString.Value);
            if (body is not null) copy.Content = new KeptBodyContent(body);
            foreach (var (name, values) in request.Headers)
            {
                if (name.StartsWith(':') || name.Equals("Host", StringComparison.OrdinalIgnoreCase) || name.Equals("Connection", StringComparison.OrdinalIgnoreCase)
                    || name.Equals("Transfer-Encoding", StringComparison.OrdinalIgnoreCase) || name.Equals("Content-Length", StringComparison.OrdinalIgnoreCase)) continue;
                // Content-Type and the other Content-* headers belong to the content (the copy's length is the kept body's).
                if (copy.Content is { } content && name.StartsWith("Content-", StringComparison.OrdinalIgnoreCase))
                    content.Headers.TryAddWithoutValidation(name, (IEnumerable<string?>)values);
                else
                    copy.Headers.TryAddWithoutValidation(name, (IEnumerable<string?>)values);
            }
            copy.Headers.Host = AuthorityText.HostOf(plan.Authority) + "-shadow";
            copy.Options.Set(UpstreamEndpoint.OptionKey, upstream);
            var limiter = runtime.CircuitBreakers.For(service.Hostname).Connections;
            _ = SendMirrorAsync(copy, upstream, limiter, body, body?.AddMirror());
        }
    }

    private async Task SendMirrorAsync(HttpRequestMessage copy, UpstreamEndpoint upstream, ConnectionLimiter limiter, ReplayableRequestBody? body, Task<bool>? bodyComplete)
    {
        try
        {
            using (copy)
            {
                if (bodyComplete is not null && !await bodyComplete.ConfigureAwait(false)) return; // not kept whole
                // The shadow service's connection limit applies too; a copy that would have to wait is dropped.
                if (!limiter.TryAcquireSlotNow()) return;
                try
                {
                    using var attempt = limiter.BeginAttempt(upstream.Address, http2: false);
                    using var timeout = new CancellationTokenSource(MirrorTimeout);
                    using var response = await clients.For(limiter).SendAsync(copy, timeout.Token).ConfigureAwait(false);
                }
                finally
                {
                    limiter.ReleaseSlot();
                }
            }
        }
        catch (Exception e) when (e is HttpRequestException or OperationCanceledException or IOException or ObjectDisposedException)
        {
            // A shadow's failure is not the client's business.
        }
        finally
        {
            body?.ReleaseMirror();
        }
    }

    private async Task ForwardAsync(HttpContext context, WaypointState state, ForwardPlan? plan, RetryPolicy retry, ReplayableRequestBody? body,
        Service? service, Workload? workload, IPEndPoint target, RequestOutcome outcome)
    {
        var snapshot = state.Snapshot;
        // The backend: the route's backend service and port, else the service (or workload) the client dialled.
        Service? backendService = service;
        int port = target.Port;
        if (plan is not null)
        {
            backendService = snapshot.ServiceByName(plan.Backend.Backend.Namespace, plan.Backend.Backend.Name);
            port = plan.Backend.Backend.Port ?? target.Port;
            if (backendService is null)
            {
                await outcome.AnswerAsync(context, 500, "NR", $"backend service {plan.Backend.Backend.Namespace}/{plan.Backend.Backend.Name} does not exist").ConfigureAwait(false);
                return;
            }
        }
        outcome.Service ??= backendService;
        var endpoints = backendService is not null
            ? snapshot.EndpointsOf(backendService, port)
            : [new EndpointTarget(workload!, target.Port)];
        if (endpoints.IsEmpty)
        {
            await outcome.AnswerAsync(context, 503, "UH", $"no healthy upstream for {backendService?.Hostname}:{port}").ConfigureAwait(false);
            return;
        }

        var host = backendService?.Hostname ?? $"{workload!.Namespace}/{workload.Name}";
        // http2MaxRequests bounds the requests in flight to the service, for their whole life (a streaming proxy holds
        // each until its response ends). The connection limit and its pending queue are per attempt, below.
        var breaker = runtime.CircuitBreakers.For(host);
        using var inFlightLimit = breaker.TryEnter(CircuitResource.Request);
        if (inFlightLimit is null)
        {
            await OverflowAsync(context, outcome).ConfigureAwait(false);
            return;
        }
        var connections = breaker.Connections;
        var client = clients.For(connections);
        var outlier = runtime.OutlierDetectorFor(host, snapshot, endpoints);

        var timeouts = plan?.Timeouts ?? default;
        // Sent again only as it was: no body, or a body kept whole so far; never an upgrade (its stream is the client's).
        bool upgrade = IsUpgrade(context);
        bool bodyless = !HasBody(context);
        bool Replayable() => !upgrade && (body is null ? bodyless : body.CanReplay);
        using var requestTimeout = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted);
        if (timeouts.Request is { } total) requestTimeout.CancelAfter(total);
        var attemptStart = Stopwatch.GetTimestamp();
        var protocol = IsGrpc(context.Request) ? UpstreamProtocol.Http2 : UpstreamProtocol.MatchClient;
        // An HTTP/1.1 request needs a connection to itself, so it takes one of the service's connection slots and
        // waits as pending when all are taken. HTTP/2 multiplexes: its connections are capped when they open.
        bool http1 = !HboneForwarder.UsesHttp2(context, protocol);
        // http.maxRetries bounds the retries in flight to the service (Envoy's retry circuit breaker): a retry takes
        // a lease when it is decided and holds it through its backoff and attempt. Without one the answer at hand stands.
        CircuitLease? decidedRetry = null, runningRetry = null;
        bool TakeRetry()
        {
            if (decidedRetry is not null) return true;
            decidedRetry = breaker.TryEnter(CircuitResource.Retry);
            if (decidedRetry is null) outcome.Detail = "retry overflow (maxRetries)";
            return decidedRetry is not null;
        }

        try
        {
            for (int attempt = 1; ; attempt++)
            {
                outcome.Attempts = attempt;
                if (attempt > 1)
                {
                    runningRetry?.Dispose();
                    runningRetry = decidedRetry;
                    decidedRetry = null;
                    // Between attempts no connection slot is held: the backoff does not keep others waiting.
                    if (!await BackoffAsync(context, retry.Backoff(attempt - 1, Random.Shared), requestTimeout, outcome).ConfigureAwait(false)) return;
                    body?.Rewind();
                    KeepBodyLimitsOpen(context);
                }
                if (http1)
                {
                    bool granted;
                    try
                    {
                        granted = await connections.TryAcquireSlotAsync(requestTimeout.Token).ConfigureAwait(false);
                    }
                    catch (OperationCanceledException) when (requestTimeout.IsCancellationRequested && !context.RequestAborted.IsCancellationRequested)
                    {
                        await outcome.AnswerAsync(context, 504, "UT", "upstream request timeout").ConfigureAwait(false);
                        return;
                    }
                    if (!granted)
                    {
                        await OverflowAsync(context, outcome).ConfigureAwait(false);
                        return;
                    }
                }
                try
                {
                    var pick = Pick(endpoints, outlier, state);
                    var upstream = Upstream(pick, protocol);
                    outcome.Destination = pick.Workload;
                    outcome.Upstream = upstream.Address;
                    using var inFlight = runtime.Begin(pick);
                    // Disposed before the slot is released: the connection it used is idle by the time the slot is free.
                    using var connectionUse = connections.BeginAttempt(upstream.Address, http2: !http1);
                    var endpointKey = pick.Workload.Uid; // outlier detection is per service host, where a workload is one endpoint

                    var transformer = new AttemptTransformer(plan, status => attempt <= retry.Retries && Replayable() && retry.ShouldRetry(attempt, status) && TakeRetry(), body);
                    using var attemptTimeout = CancellationTokenSource.CreateLinkedTokenSource(requestTimeout.Token);
                    if (timeouts.AttemptBudget(Stopwatch.GetElapsedTime(attemptStart)) is { } budget) attemptTimeout.CancelAfter(budget);
                    var error = await forwarder.ForwardAsync(context, client, upstream, transformer: transformer, cancellationToken: attemptTimeout.Token).ConfigureAwait(false);

                    if (requestTimeout.IsCancellationRequested && !context.RequestAborted.IsCancellationRequested)
                    {
                        outcome.Flags = "UT";
                        if (!context.Response.HasStarted)
                            await outcome.AnswerAsync(context, 504, "UT", "upstream request timeout").ConfigureAwait(false);
                        return;
                    }
                    if (transformer.HeldStatus is { } held)
                    {
                        outlier.ReportStatus(endpointKey, held);
                        ResetResponse(context);
                        if (!Replayable())
                        {
                            // The body outgrew the buffer after the answer was held back: the answer stands (its body is lost).
                            context.Response.StatusCode = held;
                            outcome.Detail = "request body too large to retry";
                            return;
                        }
                        outcome.Detail = $"retrying after {held}";
                        continue;
                    }
                    if (error == ForwarderError.None)
                    {
                        outlier.ReportStatus(endpointKey, context.Response.StatusCode);
                        if (context.Response.StatusCode >= 500 && attempt > 1 && retry.ShouldRetry(attempt - 1, context.Response.StatusCode)) outcome.Flags = "URX";
                        return;
                    }
                    // The upstream could not be reached (or broke before answering).
                    bool beforeResponse = !context.Response.HasStarted;
                    if (error is ForwarderError.Request or ForwarderError.RequestTimedOut)
                        outlier.ReportConnectFailure(endpointKey);
                    if (beforeResponse && Replayable() && error is ForwarderError.Request && retry.ShouldRetryConnectFailure(attempt) && TakeRetry())
                    {
                        ResetResponse(context);
                        outcome.Detail = $"retrying after {error}";
                        continue;
                    }
                    if (attemptTimeout.IsCancellationRequested && beforeResponse)
                    {
                        await outcome.AnswerAsync(context, 504, "UT", "upstream request timeout").ConfigureAwait(false);
                        return;
                    }
                    outcome.Flags = error is ForwarderError.Request ? "UF" : "UC";
                    outcome.Detail = context.Features.Get<IForwarderErrorFeature>()?.Exception?.Message ?? error.ToString();
                    return;
                }
                finally
                {
                    if (http1) connections.ReleaseSlot();
                }
            }
        }
        finally
        {
            runningRetry?.Dispose();
            decidedRetry?.Dispose();
        }
    }

    /// <summary>Beyond a circuit-breaking limit: Envoy's local 503, marked overloaded, flag UO.</summary>
    private static Task OverflowAsync(HttpContext context, RequestOutcome outcome)
    {
        context.Response.Headers["x-envoy-overloaded"] = "true";
        return outcome.AnswerAsync(context, CircuitBreaker.OverflowStatusCode, "UO", OverflowBody);
    }

    /// <summary>Waits out a retry backoff; false (after answering 504 UT) when the route's request timeout passes first.</summary>
    private static async Task<bool> BackoffAsync(HttpContext context, TimeSpan backoff, CancellationTokenSource requestTimeout, RequestOutcome outcome)
    {
        try
        {
            await Task.Delay(backoff, requestTimeout.Token).ConfigureAwait(false);
            return true;
        }
        catch (OperationCanceledException) when (!context.RequestAborted.IsCancellationRequested)
        {
            await outcome.AnswerAsync(context, 504, "UT", "upstream request timeout").ConfigureAwait(false);
            return false;
        }
    }

    /// <summary>
    /// The forwarder lifts the server's request body size limit for gRPC, but cannot once the body has been read
    /// (a retry) and warns; the waypoint runs without that limit anyway, so a retry sees a feature already lifted.
    /// </summary>
    private static void KeepBodyLimitsOpen(HttpContext context)
    {
        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: true, MaxRequestBodySize: null })
            context.Features.Set<IHttpMaxRequestBodySizeFeature>(UnlimitedRequestBody.Instance);
    }

    private sealed class UnlimitedRequestBody : IHttpMaxRequestBodySizeFeature
    {
        public static readonly UnlimitedRequestBody Instance = new();
        public bool IsReadOnly => false;
        public long? MaxRequestBodySize { get => null; set { } }
    }

    /// <summary>Least-request choice of two among the endpoints that outlier detection has not ejected (all of them if it ejected every one).</summary>
    private EndpointTarget Pick(System.Collections.Immutable.ImmutableArray<EndpointTarget> endpoints, OutlierDetector outlier, WaypointState state)
    {
        Span<int> healthy = endpoints.Length <= 64 ? stackalloc int[endpoints.Length] : new int[endpoints.Length];
        int count = 0;
        for (int i = 0; i < endpoints.Length; i++)
        {
            var e = endpoints[i];
            if (!outlier.IsEjected(e.Workload.Uid)) healthy[count++] = i;
        }
        if (count == 0)
        {
            for (int i = 0; i < endpoints.Length; i++) healthy[i] = i;
            count = endpoints.Length;
        }
        var a = endpoints[healthy[Random.Shared.Next(count)]];
        if (count == 1) return a;
        var b = endpoints[healthy[Random.Shared.Next(count)]];
        return runtime.InFlight(a) <= runtime.InFlight(b) ? a : b;
    }

    private static ForwardPlan GrpcPlan(GrpcRouteSelection selection, RouteBackendRef backend, HttpRequestHead head)
    {
        var request = System.Collections.Immutable.ImmutableArray.CreateBuilder<HeaderModifier>();
        var response = System.Collections.Immutable.ImmutableArray.CreateBuilder<HeaderModifier>();
        foreach (var filter in selection.Rule.Filters.AddRange(backend.Filters))
        {
            if (filter.HeaderModifier is not { } modifier) continue;
            if (filter.Type == RouteFilterType.RequestHeaderModifier) request.Add(modifier);
            else if (filter.Type == RouteFilterType.ResponseHeaderModifier) response.Add(modifier);
        }
        return new ForwardPlan(backend, head.Authority, head.Path, request.ToImmutable(), response.ToImmutable(), [], RetryPolicy.Default, default);
    }

    private static Workload? SourceWorkload(MeshSnapshot snapshot, IHboneTunnelFeature tunnel)
    {
        // The client workload: the HBONE connection leaves from its address (else the Forwarded client address), and
        // it is believed only if it holds the identity mTLS proved.
        return Holding(snapshot.WorkloadByAddress(tunnel.PeerEndPoint.Address), tunnel.SourceIdentity)
            ?? (tunnel.OriginalClient is { } client ? Holding(snapshot.WorkloadByAddress(client.Address), tunnel.SourceIdentity) : null);

        static Workload? Holding(Workload? workload, string? identity) => workload is not null && workload.Identity == identity ? workload : null;
    }

    private UpstreamEndpoint Upstream(EndpointTarget pick, UpstreamProtocol protocol) =>
        _upstreams.GetOrAdd((pick.Workload.Addresses[0], pick.TargetPort, pick.Workload.Identity, protocol),
            static k => new UpstreamEndpoint(new IPEndPoint(k.Item1, k.Item2), k.Item3, protocol: k.Item4));

    private static HttpRequestHead Head(HttpRequest request) => new(
        request.Method,
        request.Scheme,
        request.Host.Value ?? "",
        request.Path.Value is { Length: > 0 } path ? path : "/",
        request.QueryString.HasValue ? request.QueryString.Value![1..] : "",
        request.Headers);

    /// <summary>Whether the request carries a body (the server knows: Content-Length, chunked, or HTTP/2 DATA to come).</summary>
    private static bool HasBody(HttpContext context) =>
        context.Features.Get<IHttpRequestBodyDetectionFeature>()?.CanHaveBody
        ?? ((context.Request.ContentLength ?? 0) > 0 || context.Request.Headers.ContainsKey("Transfer-Encoding"));

    private static bool IsUpgrade(HttpContext context) =>
        HttpMethods.IsConnect(context.Request.Method) || context.WebSockets.IsWebSocketRequest;

    private static bool IsGrpc(HttpRequest request) =>
        request.ContentType is { } type && type.StartsWith("application/grpc", StringComparison.OrdinalIgnoreCase);

    private static string? GrpcStatus(HttpContext context) =>
        context.Response.Headers.TryGetValue("grpc-status", out var status) ? status.ToString()
        : context.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpResponseTrailersFeature>()?.Trailers is { } trailers && trailers.TryGetValue("grpc-status", out var t) ? t.ToString()
        : null;

    private static void ResetResponse(HttpContext context)
    {
        context.Response.Clear();
        context.Response.StatusCode = 200;
        context.Features.Set<IForwarderErrorFeature>(null);
    }
}

/// <summary>What the pipeline learned about a request, for its metrics and access log.</summary>
internal sealed class RequestOutcome
{
    public Workload? Source;
    public Workload? Destination;
    public Service? Service;
    public IPEndPoint? Upstream;
    public string? Route;
    public string Flags = "-";
    public string? Detail;
    public int Attempts;

    /// <summary>Answers locally (no upstream) with Envoy's plain-text body for the status.</summary>
    public async Task AnswerAsync(HttpContext context, int status, string flags, string body, string? detail = null)
    {
        Flags = flags;
        Detail = detail ?? body;
        if (context.Response.HasStarted) return;
        context.Response.StatusCode = status;
        if (body.Length > 0)
        {
            context.Response.ContentType = "text/plain";
            var bytes = System.Text.Encoding.UTF8.GetBytes(body);
            context.Response.ContentLength = bytes.Length;
            await context.Response.Body.WriteAsync(bytes).ConfigureAwait(false);
        }
    }
}

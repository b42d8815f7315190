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
using Microsoft.Extensions.Logging;
using Yarp.ReverseProxy.Forwarder;

namespace Ambient.Waypoint.Proxy;

/// <summary>
/// Everything the waypoint does to one request, in Envoy's order: find the destination (the VIP or workload the
/// client dialled), authenticate the JWT (401), authorize (403), match routes (404 when a service has routes and none
/// match), rate limit (429), inject faults, redirect or forward to a weighted backend with circuit breaking (503
/// overflow), outlier detection, retries and timeouts (504); then metrics and one access-log line.
/// </summary>
public sealed class RequestPipeline(WaypointRuntime runtime, HboneForwarder forwarder, ILogger accessLog)
{
    // Keyed by address, port, identity and protocol (no IPEndPoint built per lookup).
    private readonly ConcurrentDictionary<(IPAddress, int, string, UpstreamProtocol), UpstreamEndpoint> _upstreams = new();

    public async Task HandleAsync(HttpContext context)
    {
        var started = Stopwatch.GetTimestamp();
        var state = runtime.State;
        var snapshot = state.Snapshot;
        var tunnel = context.Features.Get<IHboneTunnelFeature>();
        var outcome = new RequestOutcome();
        var requestBytes = context.Request.ContentLength ?? 0;
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
            series.RequestBytes.Observe(requestBytes);
            series.ResponseBytes.Observe(context.Response.ContentLength ?? outcome.ResponseBytes);
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

        if (plan is { Mirrors.IsEmpty: false }) Mirror(context, state, plan, target);
        await ForwardAsync(context, state, plan, service, workload, target, outcome).ConfigureAwait(false);
    }

    /// <summary>
    /// RequestMirror: a copy of the request goes to each mirror backend, fire and forget; its answer is dropped and
    /// its failure costs the client nothing. Like Envoy, the copy's Host gets a <c>-shadow</c> suffix. Requests with a
    /// body are not mirrored (the body is streamed to the real backend once, not buffered).
    /// </summary>
    private void Mirror(HttpContext context, WaypointState state, ForwardPlan plan, IPEndPoint target)
    {
        var request = context.Request;
        if ((request.ContentLength ?? 0) != 0 || request.Headers.ContainsKey("Transfer-Encoding")) return;
        foreach (var mirror in plan.Mirrors)
        {
            if (state.Snapshot.ServiceByName(mirror.Namespace, mirror.Name) is not { } service) continue;
            var endpoints = state.Snapshot.EndpointsOf(service, mirror.Port ?? target.Port);
            if (endpoints.IsEmpty) continue;
            var pick = endpoints[Random.Shared.Next(endpoints.Length)];
            var upstream = Upstream(pick, UpstreamProtocol.Http1);
            var copy = new HttpRequestMessage(new HttpMethod(request.Method), upstream.DestinationPrefix + plan.Path + request.QueryString.Value);
            foreach (var (name, values) in request.Headers)
            {
                if (name.StartsWith(':') || name.Equals("Host", StringComparison.OrdinalIgnoreCase) || name.Equals("Connection", StringComparison.OrdinalIgnoreCase)) continue;
                copy.Headers.TryAddWithoutValidation(name, (IEnumerable<string?>)values);
            }
            copy.Headers.Host = AuthorityText.HostOf(plan.Authority) + "-shadow";
            copy.Options.Set(UpstreamEndpoint.OptionKey, upstream);
            _ = SendMirrorAsync(copy);
        }
    }

    private async Task SendMirrorAsync(HttpRequestMessage copy)
    {
        using (copy)
        {
            try
            {
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
                using var response = await forwarder.Client.SendAsync(copy, timeout.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is HttpRequestException or OperationCanceledException or IOException)
            {
                // A shadow's failure is not the client's business.
            }
        }
    }

    private async Task ForwardAsync(HttpContext context, WaypointState state, ForwardPlan? plan, Service? service, Workload? workload, IPEndPoint target, RequestOutcome outcome)
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
        // Concurrent requests (http2MaxRequests) and requests waiting on the service (http1MaxPendingRequests): a
        // streaming proxy holds each request for its whole life, so both bound what is in flight.
        var breaker = runtime.CircuitBreakers.For(host);
        using var overflow = breaker.TryEnter(CircuitResource.Request);
        using var pending = overflow is null ? null : breaker.TryEnter(CircuitResource.PendingRequest);
        if (overflow is null || pending is null)
        {
            context.Response.Headers["x-envoy-overloaded"] = "true";
            await outcome.AnswerAsync(context, CircuitBreaker.OverflowStatusCode, "UO", "upstream connect error or disconnect/reset before headers. reset reason: overflow").ConfigureAwait(false);
            return;
        }
        var outlier = runtime.OutlierDetectorFor(host, snapshot, endpoints);

        var retry = plan?.Retry ?? RetryPolicy.Default;
        var timeouts = plan?.Timeouts ?? default;
        // A body can be sent once: requests that have one are not retried (Envoy would buffer it; we stream).
        bool replayable = (context.Request.ContentLength ?? 0) == 0 && !context.Request.Headers.ContainsKey("Transfer-Encoding")
                          && !HttpMethods.IsConnect(context.Request.Method) && !context.WebSockets.IsWebSocketRequest;
        using var requestTimeout = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted);
        if (timeouts.Request is { } total) requestTimeout.CancelAfter(total);
        var attemptStart = Stopwatch.GetTimestamp();
        var protocol = IsGrpc(context.Request) ? UpstreamProtocol.Http2 : UpstreamProtocol.MatchClient;

        for (int attempt = 1; ; attempt++)
        {
            outcome.Attempts = attempt;
            var pick = Pick(endpoints, outlier, state);
            var upstream = Upstream(pick, protocol);
            outcome.Destination = pick.Workload;
            outcome.Upstream = upstream.Address;
            using var inFlight = runtime.Begin(pick);
            var endpointKey = pick.Workload.Uid; // outlier detection is per service host, where a workload is one endpoint

            bool mayRetry = replayable && attempt <= retry.Retries;
            var transformer = new AttemptTransformer(plan, status => mayRetry && retry.ShouldRetry(attempt, status));
            using var attemptTimeout = CancellationTokenSource.CreateLinkedTokenSource(requestTimeout.Token);
            if (timeouts.AttemptBudget(Stopwatch.GetElapsedTime(attemptStart)) is { } budget) attemptTimeout.CancelAfter(budget);
            var error = await forwarder.ForwardAsync(context, upstream, transformer: transformer, cancellationToken: attemptTimeout.Token).ConfigureAwait(false);

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
                outcome.Detail = $"retrying after {held}";
                await Task.Delay(retry.Backoff(attempt, Random.Shared), requestTimeout.Token).ConfigureAwait(false);
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
            if (beforeResponse && replayable && error is ForwarderError.Request && retry.ShouldRetryConnectFailure(attempt))
            {
                ResetResponse(context);
                outcome.Detail = $"retrying after {error}";
                await Task.Delay(retry.Backoff(attempt, Random.Shared), requestTimeout.Token).ConfigureAwait(false);
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
    public long ResponseBytes;

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
            ResponseBytes = bytes.Length;
            context.Response.ContentLength = bytes.Length;
            await context.Response.Body.WriteAsync(bytes).ConfigureAwait(false);
        }
    }
}

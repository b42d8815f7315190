using System.Collections.Immutable;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Ambient.Config.Routes;

/// <summary>
/// Ambient's L7 extensions to Gateway API routes, which has no fault injection or rate limiting. They are metadata
/// annotations, so the same route is valid in a cluster (the CRD schema keeps annotations) and in the local file;
/// the value is YAML or JSON and applies to every rule of the route:
/// <code>
/// metadata:
///   annotations:
///     ambient.dev/fault: |                      # Istio VirtualService http[].fault
///       delay: { fixedDelay: 5s, percentage: { value: 10 } }
///       abort: { httpStatus: 503, percentage: { value: 1 } }   # or grpcStatus: UNAVAILABLE
///     ambient.dev/local-rate-limit: |           # Envoy local rate limit token bucket
///       tokenBucket: { maxTokens: 100, tokensPerFill: 10, fillInterval: 1s }
///       statusCode: 429                         # optional
/// </code>
/// Other annotations are ignored, except unknown <c>ambient.dev/</c> keys, which are errors (typos).
/// </summary>
internal static class RouteExtensionParser
{
    public const string FaultKey = "ambient.dev/fault";
    public const string RateLimitKey = "ambient.dev/local-rate-limit";
    private static readonly string[] Keys = [FaultKey, RateLimitKey];

    private static readonly string[] FaultFields = ["delay", "abort"];
    private static readonly string[] DelayFields = ["fixedDelay", "percentage"];
    private static readonly string[] AbortFields = ["httpStatus", "grpcStatus", "percentage"];
    private static readonly string[] PercentageFields = ["value"];
    private static readonly string[] RateLimitFields = ["tokenBucket", "statusCode"];
    private static readonly string[] BucketFields = ["maxTokens", "tokensPerFill", "fillInterval"];

    /// <summary>gRPC status names as Istio's <c>grpcStatus</c> accepts them, by code.</summary>
    private static readonly string[] GrpcCodes =
    [
        "OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND", "ALREADY_EXISTS",
        "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED",
        "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED",
    ];

    public static (FaultInjection? Fault, LocalRateLimit? RateLimit) Parse(ConfigReader reader, ImmutableArray<ObjectEnvelope.Annotation> annotations)
    {
        FaultInjection? fault = null;
        LocalRateLimit? rateLimit = null;
        foreach (var annotation in annotations)
        {
            if (!annotation.Key.StartsWith("ambient.dev/", StringComparison.Ordinal)) continue;
            switch (annotation.Key)
            {
                case FaultKey:
                    fault = ParseValue(reader, annotation, FaultFields, Fault);
                    break;
                case RateLimitKey:
                    rateLimit = ParseValue(reader, annotation, RateLimitFields, RateLimit);
                    break;
                default:
                    var suggestion = Suggestions.Closest(annotation.Key, Keys);
                    reader.Error(annotation.Node, annotation.Path, $"unknown Ambient annotation '{annotation.Key}' (expected {string.Join(" or ", Keys)}"
                        + (suggestion is null ? ")" : $"; did you mean '{suggestion}'?)"));
                    break;
            }
        }
        return (fault, rateLimit);
    }

    /// <summary>
    /// Parses the annotation text as its own YAML document with a private reader, then reports each problem at the
    /// annotation (the inner line numbers would be relative to the annotation text) with the inner field path.
    /// </summary>
    private static T? ParseValue<T>(ConfigReader reader, ObjectEnvelope.Annotation annotation, string[] fields, Func<YamlMap, T?> parse) where T : class
    {
        var inner = new ConfigReader(reader.File);
        T? value = null;
        var stream = new YamlStream();
        try
        {
            stream.Load(new StringReader(annotation.Value));
            var root = stream.Documents.Count == 1 ? stream.Documents[0].RootNode : null;
            if (root is null || ConfigReader.IsNull(root))
                reader.Error(annotation.Node, annotation.Path, "expected a YAML or JSON mapping as the annotation value");
            else if (inner.Map(root, annotation.Path, fields) is { } map)
                value = parse(map);
        }
        catch (Exception e) when (e is YamlException or InvalidOperationException or ArgumentException)
        {
            reader.Error(annotation.Node, annotation.Path, $"annotation value is not valid YAML or JSON: {e.Message}");
        }
        foreach (var error in inner.Errors)
        {
            reader.Error(annotation.Node, error.FieldPath, error.Message);
        }
        return inner.Errors.Count == 0 ? value : null;
    }

    private static FaultInjection? Fault(YamlMap map)
    {
        FaultDelay? delay = null;
        FaultAbort? abort = null;
        if (map.Map("delay", DelayFields) is { } delayMap)
        {
            var fixedDelay = RouteFieldRules.IstioDuration(delayMap, "fixedDelay");
            if (delayMap.Get("fixedDelay") is null) delayMap.Missing("fixedDelay");
            var percentage = Percentage(delayMap);
            if (fixedDelay is not null && percentage is not null) delay = new FaultDelay(fixedDelay.Value, percentage.Value);
        }
        if (map.Map("abort", AbortFields) is { } abortMap)
        {
            var http = RouteFieldRules.Int(abortMap, "httpStatus", 200, 599, "HTTP status");
            int? grpc = null;
            if (abortMap.String("grpcStatus") is { } grpcText)
            {
                var index = Array.IndexOf(GrpcCodes, grpcText.ToUpperInvariant());
                grpc = index >= 0 ? index
                    : int.TryParse(grpcText, out var code) && code is >= 0 and <= 16 ? code : null;
                if (grpc is null)
                    abortMap.Reader.Error(abortMap.Get("grpcStatus")!, abortMap.PathOf("grpcStatus"), $"'{grpcText}' is not a gRPC status (a name such as UNAVAILABLE, or a code 0-16)");
            }
            if ((abortMap.Get("httpStatus") is null) == (abortMap.Get("grpcStatus") is null))
                abortMap.Reader.Error(abortMap.Node, abortMap.Path, "abort needs exactly one of 'httpStatus' or 'grpcStatus'");
            var percentage = Percentage(abortMap);
            if ((http is not null || grpc is not null) && percentage is not null) abort = new FaultAbort(http, grpc, percentage.Value);
        }
        if (map.IsEffectivelyEmpty) map.Reader.Error(map.Node, map.Path, "fault needs 'delay' and/or 'abort'");
        return new FaultInjection { Delay = delay, Abort = abort };
    }

    /// <summary>Istio <c>percentage: { value: 0-100 }</c>; omitted means every request.</summary>
    private static double? Percentage(YamlMap owner)
    {
        var map = owner.Map("percentage", PercentageFields);
        if (map is null) return owner.Get("percentage") is null ? 100.0 : null;
        if (map.Get("value") is null)
        {
            map.Missing("value");
            return null;
        }
        return RouteFieldRules.Number(map, "value", 0, 100, "percentage");
    }

    private static LocalRateLimit? RateLimit(YamlMap map)
    {
        var bucket = map.Map("tokenBucket", BucketFields, required: true);
        var status = RouteFieldRules.Int(map, "statusCode", 400, 599, "status code") ?? 429;
        if (bucket is null) return null;
        var maxTokens = RouteFieldRules.Int(bucket, "maxTokens", 1, int.MaxValue, "token count");
        if (bucket.Get("maxTokens") is null) bucket.Missing("maxTokens");
        var perFill = RouteFieldRules.Int(bucket, "tokensPerFill", 1, int.MaxValue, "token count") ?? (bucket.Get("tokensPerFill") is null ? 1 : null);
        var interval = RouteFieldRules.IstioDuration(bucket, "fillInterval");
        if (bucket.Get("fillInterval") is null) bucket.Missing("fillInterval");
        if (interval is { } i && i < TimeSpan.FromMilliseconds(50))
        {
            bucket.Reader.Error(bucket.Get("fillInterval")!, bucket.PathOf("fillInterval"), "fillInterval must be at least 50ms (as in Envoy)");
            return null;
        }
        if (maxTokens is null || perFill is null || interval is null) return null;
        return new LocalRateLimit { MaxTokens = maxTokens.Value, TokensPerFill = perFill.Value, FillInterval = interval.Value, StatusCode = status };
    }
}

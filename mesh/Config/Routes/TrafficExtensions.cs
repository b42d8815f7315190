namespace Ambient.Config.Routes;

/// <summary>
/// Istio VirtualService <c>fault</c> shape: delay and/or abort, each for a percentage of requests (100 when
/// the percentage is omitted).
/// </summary>
public sealed record FaultInjection
{
    public FaultDelay? Delay { get; init; }
    public FaultAbort? Abort { get; init; }
}

public sealed record FaultDelay(TimeSpan FixedDelay, double Percentage);

/// <summary>Exactly one of <see cref="HttpStatus"/> (200-599) and <see cref="GrpcStatus"/> (0-16) is set.</summary>
public sealed record FaultAbort(int? HttpStatus, int? GrpcStatus, double Percentage);

/// <summary>
/// Envoy local rate limit token bucket (Istio users configure it through EnvoyFilter): the bucket starts full with
/// <see cref="MaxTokens"/>; every <see cref="FillInterval"/> it gains <see cref="TokensPerFill"/>, up to the maximum.
/// A request without a token gets <see cref="StatusCode"/> (429).
/// </summary>
public sealed record LocalRateLimit
{
    public required int MaxTokens { get; init; }
    public required int TokensPerFill { get; init; }
    public required TimeSpan FillInterval { get; init; }
    public int StatusCode { get; init; } = 429;
}

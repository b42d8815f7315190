namespace Ambient.LoadBalancing;

/// <summary>
/// One open connection counted against an endpoint (what power-of-two-choices compares). Take it as soon as the
/// endpoint is picked (so in-flight connects count) and dispose it when the connection ends. A struct: no allocation.
/// Disposing twice through the same variable is harmless; do not dispose copies separately.
/// <c>default</c> is an empty lease whose members do nothing.
/// </summary>
public struct ConnectionLease : IDisposable
{
    private EndpointHealth? _health;

    internal ConnectionLease(EndpointHealth health) => _health = health;

    /// <summary>The endpoint's shared state, or null for an empty or disposed lease.</summary>
    public readonly EndpointHealth? Health => _health;

    /// <summary>The connect succeeded (same as <see cref="EndpointHealth.ReportSuccess"/>).</summary>
    public readonly void ReportSuccess() => _health?.ReportSuccess();

    /// <summary>The connect failed (same as <see cref="EndpointHealth.ReportFailure"/>).</summary>
    public readonly void ReportFailure() => _health?.ReportFailure();

    /// <summary>Releases the connection count.</summary>
    public void Dispose()
    {
        var health = _health;
        _health = null;
        health?.Release();
    }
}

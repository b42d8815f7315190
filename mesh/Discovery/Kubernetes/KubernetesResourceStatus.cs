namespace Ambient.Discovery.Kubernetes;

/// <summary>Where the list/watch of one resource stands (for status pages and config dumps).</summary>
/// <param name="Kind">Object kind, e.g. <c>Pod</c>.</param>
/// <param name="ApiVersion">e.g. <c>v1</c>, <c>security.istio.io/v1</c>.</param>
/// <param name="Synced">A list has succeeded at least once (the objects are known).</param>
/// <param name="Served">False when the API server does not serve the resource (its CRD is not installed).</param>
/// <param name="ResourceVersion">Where the next watch resumes.</param>
/// <param name="Objects">Objects currently known.</param>
/// <param name="ConsecutiveFailures">Failed requests since the last success (0 when healthy).</param>
/// <param name="LastError">The last failure while <paramref name="ConsecutiveFailures"/> &gt; 0.</param>
public sealed record KubernetesResourceStatus(
    string Kind, string ApiVersion, bool Synced, bool Served, string? ResourceVersion, int Objects, int ConsecutiveFailures, string? LastError);

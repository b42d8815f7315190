namespace Ambient.Waypoint.Routing;

/// <summary>The service a GAMMA route attaches to (a <c>parentRefs[]</c> entry of kind Service).</summary>
public readonly record struct ServiceRouteKey(string Namespace, string Name)
{
    public override string ToString() => $"{Namespace}/{Name}";
}

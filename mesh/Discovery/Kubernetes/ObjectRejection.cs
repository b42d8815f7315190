namespace Ambient.Discovery.Kubernetes;

/// <summary>
/// An API object left out of the config (<see cref="Rejected"/>), or applied with a caveat, because of
/// <see cref="Field"/>: <see cref="Message"/>. The rest of the config is unaffected.
/// </summary>
public sealed record ObjectRejection(string Kind, string Namespace, string Name, string Field, string Message, bool Rejected = true)
{
    public string ObjectName => Namespace.Length == 0 ? Name : $"{Namespace}/{Name}";

    /// <summary><c>AuthorizationPolicy foo/deny-bad: spec.rules[0].from[0].source.ipBlocks[0]: '10.0.0.300' is not an IP address or CIDR block</c></summary>
    public override string ToString() =>
        Field.Length == 0 ? $"{Kind} {ObjectName}: {Message}" : $"{Kind} {ObjectName}: {Field}: {Message}";
}

namespace Ambient.Discovery.Kubernetes;

/// <summary>Problems found while mapping one API object (field path relative to the object, and message).</summary>
internal sealed class ObjectProblems
{
    public List<(string Field, string Message)> Items { get; } = [];

    public bool Any => Items.Count > 0;

    public void Add(string field, string message) => Items.Add((field, message));
}

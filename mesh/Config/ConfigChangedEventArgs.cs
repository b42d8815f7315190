namespace Ambient.Config;

/// <summary>Raised by <see cref="ConfigStore.Changed"/> after a new snapshot has been published.</summary>
public sealed class ConfigChangedEventArgs(MeshSnapshot previous, MeshSnapshot current) : EventArgs
{
    public MeshSnapshot Previous { get; } = previous;
    public MeshSnapshot Current { get; } = current;
}

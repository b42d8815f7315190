namespace Ambient.Identity;

/// <summary>The mesh root CA could not be loaded or created. <see cref="FilePath"/> names the offending file.</summary>
public sealed class MeshCaException : Exception
{
    public MeshCaException(string message, string? filePath, Exception? inner = null)
        : base(message, inner)
    {
        FilePath = filePath;
    }

    public string? FilePath { get; }
}

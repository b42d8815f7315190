namespace Ambient.Hbone;

/// <summary>An HBONE tunnel could not be opened. <see cref="Status"/> is the peer's HTTP status when it answered.</summary>
public sealed class HboneConnectException(string message, int? status = null, Exception? inner = null) : IOException(message, inner)
{
    public int? Status { get; } = status;
}

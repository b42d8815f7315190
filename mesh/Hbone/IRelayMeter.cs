namespace Ambient.Hbone;

/// <summary>
/// Told about bytes as a relay moves them (one call per chunk read, not per byte), so counters of long-lived
/// connections move while they run rather than only when they close. Forward is the relay's first argument to its
/// second (socket → tunnel); backward the other way.
/// </summary>
public interface IRelayMeter
{
    void Forward(int bytes);
    void Backward(int bytes);
}

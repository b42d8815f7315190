using System.Net;

namespace Ambient.Tests.Support;

/// <summary>
/// Unique loopback addresses per test (the whole 127/8 is local on Linux), so tests can use the fixed mesh ports
/// (15001, 15008, …) side by side without colliding.
/// </summary>
public static class TestAddresses
{
    private static int _next = Random.Shared.Next(0, 200) * 250;

    public static IPAddress Next()
    {
        int n = Interlocked.Increment(ref _next);
        return new IPAddress([127, (byte)(64 + (n / 62500) % 64), (byte)(n / 250 % 250 + 1), (byte)(n % 250 + 1)]);
    }
}

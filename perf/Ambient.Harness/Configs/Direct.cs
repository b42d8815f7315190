using System.Net;
using Ambient.Harness.Beds;

namespace Ambient.Harness.Configs;

/// <summary>No proxy: the client connects straight to the server pod, routed by the two nodes. The baseline.</summary>
public sealed class Direct : Configuration
{
    public override string Name => "direct";
    public override string Description => "no proxy: client pod → node1 → node2 → server pod, plain TCP routed by the nodes";
    public override IReadOnlyList<int> ProxyPids => [];
    public override IPEndPoint Target(int serverPort) => new(Bed.Server.IP, serverPort);
    protected override Task StartProxiesAsync(Bed bed, CancellationToken cancel) => Task.CompletedTask;
}

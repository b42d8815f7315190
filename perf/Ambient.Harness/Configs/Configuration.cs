using System.Net;
using Ambient.Harness.Beds;

namespace Ambient.Harness.Configs;

/// <summary>
/// One way for the client pod to reach the server pod — no proxy, an HAProxy pair, the Ambient mesh — on a test
/// bed of its own. Every measurement goes through <see cref="Target"/>, so all configurations see the same load.
/// </summary>
public abstract class Configuration : IAsyncDisposable
{
    private Bed? _bed;

    /// <summary>Short name used on the command line and in the report, e.g. <c>haproxy-tls</c>.</summary>
    public abstract string Name { get; }

    /// <summary>One line for the report: what carries the traffic.</summary>
    public abstract string Description { get; }

    public Bed Bed => _bed ?? throw new InvalidOperationException($"{Name} is not started");

    /// <summary>The processes that carry the traffic (empty for no proxy): their CPU and memory are reported.</summary>
    public abstract IReadOnlyList<int> ProxyPids { get; }

    /// <summary>
    /// False for HTTP (L7) proxies: they carry requests to the server's HTTP port only, so the raw-TCP measurements
    /// (iperf3 throughput, idle connections to the sink) do not apply to them.
    /// </summary>
    public virtual bool CarriesRawTcp => true;

    /// <summary>
    /// True for the HTTP (L7) proxies: they are also driven at full load with h2load, over HTTP/1.1 to
    /// <c>Target(Ports.Http)</c> and over HTTP/2 (h2c prior knowledge) to <c>Target(Ports.H2c)</c>.
    /// </summary>
    public virtual bool IsHttpProxy => false;

    /// <summary>Where the client connects to reach <paramref name="serverPort"/> of the server pod.</summary>
    public abstract IPEndPoint Target(int serverPort);

    /// <summary>Builds the bed, then the proxies; returns once traffic can flow (the caller checks it does).</summary>
    public async Task StartAsync(CancellationToken cancel)
    {
        _bed = Bed.Create(Name);
        await _bed.WaitForServersAsync(cancel);
        await StartProxiesAsync(_bed, cancel);
    }

    protected abstract Task StartProxiesAsync(Bed bed, CancellationToken cancel);

    /// <summary>Stops the proxies (the bed's tear-down would kill them anyway; this lets them exit cleanly).</summary>
    protected virtual ValueTask StopProxiesAsync() => ValueTask.CompletedTask;

    public async ValueTask DisposeAsync()
    {
        try { await StopProxiesAsync(); }
        finally { _bed?.Dispose(); }
        GC.SuppressFinalize(this);
    }

    public override string ToString() => Name;
}

using Ambient.Hbone;
using Ambient.Observability.Metrics;

namespace Ambient.Daemon.Telemetry;

/// <summary>
/// One connection's view of its metric series: counted opened when made, bytes as the relay moves them, closed (and
/// failed, for DENY/CONNECT) when disposed. Knows which relay direction is the request.
/// </summary>
public sealed class ConnectionMeter : IRelayMeter, IDisposable
{
    private readonly TcpSeries _series;
    private readonly DaemonMetrics _owner;
    private readonly bool _forwardIsRequest;
    private readonly bool _failed;
    private int _closed;

    internal ConnectionMeter(DaemonMetrics owner, TcpSeries series, bool forwardIsRequest, bool failed)
    {
        _owner = owner;
        _series = series;
        _forwardIsRequest = forwardIsRequest;
        _failed = failed;
        series.Opened.Inc();
        owner.ConnectionOpened();
    }

    public void Forward(int bytes) => (_forwardIsRequest ? _series.Received : _series.Sent).Inc(bytes);

    public void Backward(int bytes) => (_forwardIsRequest ? _series.Sent : _series.Received).Inc(bytes);

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _closed, 1) != 0) return;
        _series.Closed.Inc();
        if (_failed) _series.Failed.Inc();
        _owner.ConnectionClosed();
    }
}

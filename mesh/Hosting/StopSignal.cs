using System.Runtime.InteropServices;

namespace Ambient.Hosting;

/// <summary>SIGTERM or SIGINT asks an Ambient process to stop: its token is cancelled instead of the process dying.</summary>
public sealed class StopSignal : IDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly PosixSignalRegistration _term;
    private readonly PosixSignalRegistration _interrupt;

    public StopSignal()
    {
        _term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
        _interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
    }

    public CancellationToken Token => _stop.Token;

    /// <summary>Waits until a stop signal arrives.</summary>
    public async Task WaitAsync()
    {
        try { await Task.Delay(Timeout.Infinite, _stop.Token).ConfigureAwait(false); }
        catch (OperationCanceledException) { }
    }

    private void OnSignal(PosixSignalContext context)
    {
        context.Cancel = true;
        Request();
    }

    /// <summary>Asks for a stop as a signal would (e.g. the admin API's quit).</summary>
    public void Request()
    {
        try { _stop.Cancel(); } catch (ObjectDisposedException) { }
    }

    public void Dispose()
    {
        _term.Dispose();
        _interrupt.Dispose();
        _stop.Dispose();
    }
}

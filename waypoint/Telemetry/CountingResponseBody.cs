using System.IO.Pipelines;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace Ambient.Waypoint.Telemetry;

/// <summary>
/// The response body feature with a <see cref="CountingStream"/> in front of Kestrel's. Unlike setting
/// <c>Response.Body</c> (which installs a wrapper that swallows them), start, buffering and completion reach Kestrel:
/// YARP completes a gRPC response right after its trailers, which must end the stream even while the client still
/// sends.
/// </summary>
internal sealed class CountingResponseBody(IHttpResponseBodyFeature inner) : IHttpResponseBodyFeature
{
    private PipeWriter? _writer;

    public CountingStream Counter { get; } = new(inner.Stream);
    public Stream Stream => Counter;
    public PipeWriter Writer => _writer ??= PipeWriter.Create(Counter, new StreamPipeWriterOptions(leaveOpen: true));

    public void DisableBuffering() => inner.DisableBuffering();
    public Task StartAsync(CancellationToken cancellationToken = default) => inner.StartAsync(cancellationToken);

    public Task SendFileAsync(string path, long offset, long? count, CancellationToken cancellationToken = default) =>
        SendFileFallback.SendFileAsync(Counter, path, offset, count, cancellationToken);

    public async Task CompleteAsync()
    {
        if (_writer is not null) await _writer.FlushAsync().ConfigureAwait(false);
        await inner.CompleteAsync().ConfigureAwait(false);
    }
}

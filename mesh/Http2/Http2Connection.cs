using System.Buffers;
using System.Diagnostics;
using System.IO.Pipelines;
using System.Text;
using Ambient.Http2.Frames;
using Ambient.Http2.Hpack;
using Microsoft.Extensions.Logging;

namespace Ambient.Http2;

/// <summary>
/// One HTTP/2 connection, either side. The read loop parses frames and dispatches them synchronously (it never
/// awaits a write, so a peer that stops reading cannot wedge us into the classic mutual flow-control deadlock);
/// frames are serialised under <see cref="_sync"/> into <see cref="Http2Output"/>, which a pump sends.
/// Servers get each new stream through the handler passed in; clients open streams with <see cref="TryOpenStream"/>.
/// </summary>
public sealed class Http2Connection : IAsyncDisposable
{
    private const int MaxWindow = int.MaxValue;
    /// <summary>How long a closing connection waits for the peer to read our last frames and close its side.</summary>
    private static readonly TimeSpan CloseTimeout = TimeSpan.FromSeconds(2);
    /// <summary>A peer reset this soon after the stream opened (or before we answered) counts as a rapid reset.</summary>
    private const long RapidResetMs = 1000;

    private readonly Stream _transport;
    private readonly PipeReader _input;
    private readonly Http2Output _output;
    private readonly Http2ConnectionOptions _options;
    private readonly ILogger _log;
    private readonly Func<Http2Stream, Task>? _onStream;
    private readonly object _sync = new();
    private readonly Dictionary<int, Http2Stream> _streams = new();
    private readonly List<Http2Stream> _blocked = new();
    private readonly Http2Settings _peerSettings = new();
    private readonly HpackDecoder _decoder;
    private readonly HpackEncoder _encoder = new();
    private readonly ArrayBufferWriter<byte> _encodeScratch = new(256);
    private readonly ArrayBufferWriter<byte> _headerBlock = new(256);
    private readonly List<HeaderField> _decoded = new();
    private readonly CancellationTokenSource _lifetime = new();
    private readonly TaskCompletionSource _completed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private long _connSendWindow = Http2Settings.DefaultInitialWindowSize;
    private int _connReceiveWindow = Http2Settings.DefaultInitialWindowSize;
    private int _connPendingCredit;
    private int _nextLocalStreamId;
    private int _localStreams;
    private int _peerStreams;
    private int _highestPeerStreamId;
    private int _headerBlockStreamId;
    private FrameFlags _headerBlockFlags;
    private int _continuationFrames;
    private bool _settingsReceived;
    private bool _goAwaySent;
    private int _goAwayReceivedLastId = -1;
    private bool _closed;
    private string? _closeReason;
    private long _pingSentAt;
    private long _settingsSentAt;
    private long _lastActivity = Environment.TickCount64;
    private long _floodWindowStart = Environment.TickCount64;
    private int _floodCount;
    private long _resetWindowStart = Environment.TickCount64;
    private int _peerResets;
    private int _completedStreams;
    private long _bufferedInput;
    // The last streams we sent RST_STREAM for. Frames the peer had in flight for them are dropped silently (RFC 9113
    // §5.1 "closed": after sending RST_STREAM, ignore frames on the stream) rather than answered with another
    // RST_STREAM each, or, for trailers, taken for a stream id going backwards. A fixed ring: no allocation.
    private readonly int[] _resetByUs = new int[32];
    private int _resetByUsNext;
    private long _lastPingAt = Environment.TickCount64;
    private Timer? _keepAlive;

    public Http2Connection(Stream transport, Http2ConnectionOptions options, Http2ConnectionInfo info, Func<Http2Stream, Task>? onStream = null)
    {
        if (options.IsServer && onStream is null)
            throw new ArgumentException("a server connection needs a stream handler", nameof(onStream));
        _transport = transport;
        _options = options;
        _log = options.Logger;
        _onStream = onStream;
        Info = info;
        _nextLocalStreamId = options.IsServer ? 2 : 1;
        _input = PipeReader.Create(transport, new StreamPipeReaderOptions(bufferSize: 64 * 1024, minimumReadSize: 16 * 1024, leaveOpen: true));
        _output = new Http2Output(transport) { LowWater = options.MaxBufferedOutput / 2, Drained = OnOutputDrained };
        _decoder = new HpackDecoder(4096, options.MaxHeaderListSize);
    }

    public Http2ConnectionInfo Info { get; }

    /// <summary>Completes when the connection has ended, for whatever reason.</summary>
    public Task Completion => _completed.Task;

    /// <summary>Completes when the peer's first SETTINGS has been applied; faults if the connection ends first.</summary>
    public Task Ready => _ready.Task;

    /// <summary>Why the connection ended (for logs), once it has.</summary>
    public string? CloseReason => _closeReason;

    /// <summary>Streams this side opened that are still open.</summary>
    public int ActiveLocalStreams { get { lock (_sync) return _localStreams; } }

    /// <summary>Whether new streams may still be opened here (no GOAWAY either way, not closed, ids left).</summary>
    public bool IsAvailable { get { lock (_sync) return CanOpenLocked(); } }

    /// <summary>Environment.TickCount64 of the last stream open or close; pools use it to retire idle connections.</summary>
    public long LastActivity => Volatile.Read(ref _lastActivity);

    /// <summary>Encoded frames not yet written to the transport (diagnostics, tests).</summary>
    internal long BufferedOutput => _output.Buffered;

    /// <summary>Received DATA bytes held for the application across all streams (diagnostics, tests).</summary>
    internal long BufferedInput { get { lock (_sync) return _bufferedInput; } }

    /// <summary>Runs the connection until it ends. Sends our preface and SETTINGS first.</summary>
    public async Task RunAsync(CancellationToken cancellationToken = default)
    {
        using var link = cancellationToken.Register(static s => ((Http2Connection)s!).Abort("cancelled"), this);
        var pump = Task.Run(_output.PumpAsync);
        _ = pump.ContinueWith(static (t, s) => ((Http2Connection)s!).Abort("transport write failed: " + t.Exception?.GetBaseException().Message),
            this, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
        var why = "connection closed by peer";
        bool linger = false;
        try
        {
            SendPrefaceAndSettings();
            // Tick several times per interval so a silent peer is dropped close to PingTimeout, not up to a whole
            // PingInterval later.
            var tick = TimeSpan.FromMilliseconds(Math.Max(10, Math.Min(_options.PingInterval.TotalMilliseconds, _options.PingTimeout.TotalMilliseconds) / 4));
            _keepAlive = new Timer(static s => ((Http2Connection)s!).OnKeepAliveTick(), this, tick, tick);
            using (var prefaceTimeout = CancellationTokenSource.CreateLinkedTokenSource(_lifetime.Token))
            {
                prefaceTimeout.CancelAfter(_options.PrefaceTimeout);
                try
                {
                    if (_options.IsServer)
                        await ReadClientPrefaceAsync(prefaceTimeout.Token).ConfigureAwait(false);
                    await ReadFramesAsync(untilFirstSettings: true, prefaceTimeout.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (!_lifetime.IsCancellationRequested)
                {
                    throw Http2ProtocolException.Connection(Http2ErrorCode.SettingsTimeout,
                        $"no HTTP/2 preface and SETTINGS within {_options.PrefaceTimeout.TotalSeconds:0.###} s");
                }
            }
            await ReadFramesAsync(untilFirstSettings: false, _lifetime.Token).ConfigureAwait(false);
        }
        catch (Http2ProtocolException e)
        {
            why = $"{e.Code}: {e.Message}";
            _log.LogWarning("HTTP/2 connection from {Remote} ended: {Code} {Reason}", Info.RemoteEndPoint, e.Code, e.Message);
            SendGoAway(e.Code, e.Message);
            // The reader is intact unless a timeout cancelled it: keep reading until the peer has seen the GOAWAY.
            linger = e.Code != Http2ErrorCode.SettingsTimeout;
        }
        catch (HpackException e)
        {
            var code = e.Error == HpackError.HeaderListTooLarge ? Http2ErrorCode.EnhanceYourCalm : Http2ErrorCode.CompressionError;
            why = $"{code}: {e.Message}";
            _log.LogWarning("HTTP/2 connection from {Remote} ended: {Code} {Reason}", Info.RemoteEndPoint, code, e.Message);
            SendGoAway(code, e.Message);
            linger = true;
        }
        catch (OperationCanceledException)
        {
            why = _closeReason ?? "cancelled";
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or InvalidOperationException)
        {
            why = _closeReason ?? "transport error: " + e.Message;
            _log.LogDebug("HTTP/2 connection to {Remote} transport ended: {Error}", Info.RemoteEndPoint, e.Message);
        }
        finally
        {
            _keepAlive?.Dispose();
            Shutdown(why);
            bool flushed = false;
            try
            {
                await pump.WaitAsync(CloseTimeout).ConfigureAwait(false);
                flushed = true;
            }
            catch { /* transport broken, or the peer is not reading */ }
            if (linger && flushed)
                await LingerAsync().ConfigureAwait(false);
            await _input.CompleteAsync().ConfigureAwait(false);
            await _transport.DisposeAsync().ConfigureAwait(false);
            _ready.TrySetException(new IOException("HTTP/2 connection ended before SETTINGS: " + _closeReason));
            _ = _ready.Task.Exception; // observed
            _completed.TrySetResult();
        }
    }

    /// <summary>
    /// After a connection error: our GOAWAY is out and our side half-closed. Read and drop whatever the peer still
    /// sends until it closes (or <see cref="CloseTimeout"/>), so closing does not reset the connection under it
    /// before it has read why.
    /// </summary>
    private async Task LingerAsync()
    {
        using var timeout = new CancellationTokenSource(CloseTimeout);
        try
        {
            while (true)
            {
                var result = await _input.ReadAsync(timeout.Token).ConfigureAwait(false);
                _input.AdvanceTo(result.Buffer.End);
                if (result.IsCompleted || result.IsCanceled)
                    return;
            }
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or ObjectDisposedException or InvalidOperationException)
        {
        }
    }

    /// <summary>Stops new streams (GOAWAY NO_ERROR) and lets open ones finish; the connection ends when they have.</summary>
    public void Drain()
    {
        lock (_sync)
        {
            if (_closed || _goAwaySent)
                return;
            WriteGoAwayLocked(Http2ErrorCode.NoError, "draining");
            if (_streams.Count == 0)
                CloseGracefullyLocked("drained");
        }
    }

    /// <summary>Ends the connection at once.</summary>
    public void Abort(string reason)
    {
        _closeReason ??= reason;
        try { _lifetime.Cancel(); } catch (ObjectDisposedException) { }
    }

    /// <summary>
    /// Ends a connection that has nothing left to do (GOAWAY sent or received, no streams): our output is completed,
    /// so the pump sends what is queued and half-closes; the peer sees end-of-stream and closes its side, which ends
    /// our read loop normally. Aborting instead would close with unread input, and the resulting TCP reset can
    /// destroy the tail of what we sent. A peer that never closes is cut off after <see cref="CloseTimeout"/>.
    /// </summary>
    private void CloseGracefullyLocked(string reason)
    {
        if (_closed)
            return;
        _closed = true;
        _closeReason ??= reason;
        _output.Complete();
        try { _lifetime.CancelAfter(CloseTimeout); } catch (ObjectDisposedException) { }
    }

    public async ValueTask DisposeAsync()
    {
        Abort("disposed");
        await Completion.ConfigureAwait(false);
    }

    // ------------------------------------------------------------------ client side

    /// <summary>
    /// Opens a stream by sending its HEADERS. Returns null when this connection cannot take another stream
    /// (closed, GOAWAY, or at the stream limit): the caller picks or creates another connection.
    /// </summary>
    public Http2Stream? TryOpenStream(IReadOnlyList<HeaderField> headers, bool endStream = false)
    {
        lock (_sync)
        {
            if (!CanOpenLocked())
                return null;
            // Encode first: headers the encoder rejects (ArgumentException) must not leave a registered stream behind.
            EncodeHeadersLocked(headers);
            int id = _nextLocalStreamId;
            _nextLocalStreamId += 2;
            var stream = new Http2Stream(this, id, _peerSettings.InitialWindowSize, _options.StreamWindow);
            _streams.Add(id, stream);
            _localStreams++;
            _lastActivity = Environment.TickCount64;
            WriteEncodedHeadersLocked(stream, endStream);
            _output.Commit();
            return stream;
        }
    }

    private bool CanOpenLocked()
        => !_closed && !_goAwaySent && _goAwayReceivedLastId < 0 && _settingsReceived
           && _localStreams < Math.Min(_options.MaxLocalStreams, _peerSettings.MaxConcurrentStreams)
           && _nextLocalStreamId < MaxWindow - 2;

    // ------------------------------------------------------------------ stream operations (called by Http2Stream)

    internal void SendHeaders(Http2Stream stream, IReadOnlyList<HeaderField> headers, bool endStream)
    {
        lock (_sync)
        {
            ThrowIfUnwritable(stream);
            WriteHeadersLocked(stream, headers, endStream);
            _output.Commit();
        }
    }

    internal async ValueTask WriteDataAsync(Http2Stream stream, ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        while (!data.IsEmpty)
        {
            Task wait;
            lock (_sync)
            {
                ThrowIfUnwritable(stream);
                if (!stream.HeadersSent)
                    throw new InvalidOperationException("DATA before HEADERS");
                long n = Math.Min(Math.Min(data.Length, stream.SendWindow), Math.Min(_connSendWindow, _peerSettings.MaxFrameSize));
                // Frames are cut to the output budget, so Buffered never exceeds MaxBufferedOutput however many
                // streams write at once (a peer that stops reading holds at most that much of our memory). Below
                // minChunk of budget we wait rather than send tiny frames; minChunk <= MaxBufferedOutput / 2 keeps a
                // waiting writer above LowWater, so the pump's Drained callback is sure to wake it.
                long budget = _options.MaxBufferedOutput - _output.Buffered;
                long minChunk = Math.Min(16 * 1024, _options.MaxBufferedOutput / 2);
                if (n > 0 && budget > 0 && budget >= Math.Min(n, minChunk))
                {
                    // Write as many frames as credit and the output budget allow before publishing.
                    do
                    {
                        n = Math.Min(n, budget);
                        FrameWriter.WriteData(_output.Writer, stream.Id, data.Span[..(int)n], endStream: false);
                        stream.SendWindow -= n;
                        _connSendWindow -= n;
                        budget -= n;
                        data = data[(int)n..];
                        n = Math.Min(Math.Min(data.Length, stream.SendWindow), Math.Min(_connSendWindow, _peerSettings.MaxFrameSize));
                    }
                    while (n > 0 && budget > 0 && budget >= Math.Min(n, minChunk));
                    _output.Commit();
                    continue;
                }
                stream.SendSignal ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                wait = stream.SendSignal.Task;
                if (!_blocked.Contains(stream))
                    _blocked.Add(stream);
            }
            await wait.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    internal void EndStream(Http2Stream stream)
    {
        lock (_sync)
        {
            if (stream.LocalClosed || stream.IsReset || _closed)
                return;
            if (!stream.HeadersSent)
                throw new InvalidOperationException("END_STREAM before HEADERS");
            FrameWriter.WriteData(_output.Writer, stream.Id, default, endStream: true);
            stream.LocalClosed = true;
            _output.Commit();
            RemoveIfDoneLocked(stream);
        }
    }

    internal void ResetStream(Http2Stream stream, Http2ErrorCode code)
    {
        lock (_sync)
        {
            if (stream.IsReset || (stream.LocalClosed && stream.RemoteClosed) || _closed)
                return;
            WriteRstLocked(stream.Id, code);
            MarkResetLocked(stream, code, byPeer: false);
        }
    }

    internal void OnInputConsumed(Http2Stream stream, int bytes)
    {
        lock (_sync)
        {
            // After a reset or abandon the buffered bytes were credited already; crediting them again would grant
            // the peer more window than we hold memory for.
            int n = Math.Min(bytes, stream.BufferedInput);
            if (_closed || n <= 0)
                return;
            stream.BufferedInput -= n;
            _bufferedInput -= n;
            CreditLocked(stream, n);
            _output.Commit();
        }
    }

    internal void OnInputAbandoned(Http2Stream stream)
    {
        // The application will read no more: return what it left unread to the connection window (and to the
        // stream's, so the peer is not stuck; whatever it still sends is dropped and credited on arrival).
        lock (_sync)
        {
            stream.InputAbandoned = true;
            ReleaseBufferedInputLocked(stream, creditStream: true);
        }
    }

    /// <summary>
    /// Credits back DATA buffered for a stream whose application will never consume it (reset or abandoned).
    /// Without this every reset stream with unread input would shrink the connection window for good, until the
    /// whole connection stalls.
    /// </summary>
    private void ReleaseBufferedInputLocked(Http2Stream stream, bool creditStream)
    {
        int n = stream.BufferedInput;
        if (n == 0 || _closed)
            return;
        stream.BufferedInput = 0;
        _bufferedInput -= n;
        CreditLocked(creditStream ? stream : null, n);
        _output.Commit();
    }

    private void ThrowIfUnwritable(Http2Stream stream)
    {
        if (stream.ResetCode is { } code)
            throw new Http2StreamResetException(code, stream.ResetByPeer ? $"stream reset by peer ({code})" : $"stream reset ({code})");
        if (_closed)
            throw new Http2StreamResetException(Http2ErrorCode.Cancel, "connection closed: " + (_closeReason ?? "closed"));
        if (stream.LocalClosed)
            throw new InvalidOperationException("stream output already completed");
    }

    private void CreditLocked(Http2Stream? stream, int bytes)
    {
        _connPendingCredit += bytes;
        if (_connPendingCredit >= _options.ConnectionWindow / 4)
        {
            FrameWriter.WriteWindowUpdate(_output.Writer, 0, _connPendingCredit);
            _connReceiveWindow += _connPendingCredit;
            _connPendingCredit = 0;
        }
        if (stream is null || stream.RemoteClosed || stream.IsReset)
            return;
        stream.PendingCredit += bytes;
        if (stream.PendingCredit >= _options.StreamWindow / 4)
        {
            FrameWriter.WriteWindowUpdate(_output.Writer, stream.Id, stream.PendingCredit);
            stream.ReceiveWindow += stream.PendingCredit;
            stream.PendingCredit = 0;
        }
    }

    // ------------------------------------------------------------------ frame output helpers (under _sync)

    private void SendPrefaceAndSettings()
    {
        lock (_sync)
        {
            var w = _output.Writer;
            if (!_options.IsServer)
                w.Write(FrameReader.ClientPreface);
            ReadOnlySpan<(SettingId, uint)> settings =
            [
                (SettingId.EnablePush, 0),
                (SettingId.MaxConcurrentStreams, (uint)_options.MaxConcurrentStreams),
                (SettingId.InitialWindowSize, (uint)_options.StreamWindow),
                (SettingId.MaxFrameSize, (uint)_options.MaxFrameSize),
                (SettingId.MaxHeaderListSize, (uint)_options.MaxHeaderListSize),
            ];
            FrameWriter.WriteSettings(w, settings);
            _settingsSentAt = Environment.TickCount64;
            int extra = _options.ConnectionWindow - Http2Settings.DefaultInitialWindowSize;
            if (extra > 0)
            {
                FrameWriter.WriteWindowUpdate(w, 0, extra);
                _connReceiveWindow += extra;
            }
            _output.Commit();
        }
    }

    private void WriteHeadersLocked(Http2Stream stream, IReadOnlyList<HeaderField> headers, bool endStream)
    {
        EncodeHeadersLocked(headers);
        WriteEncodedHeadersLocked(stream, endStream);
    }

    private void EncodeHeadersLocked(IReadOnlyList<HeaderField> headers)
    {
        _encodeScratch.ResetWrittenCount();
        var array = headers as HeaderField[] ?? [.. headers];
        _encoder.Encode(array, _encodeScratch);
    }

    private void WriteEncodedHeadersLocked(Http2Stream stream, bool endStream)
    {
        FrameWriter.WriteHeaders(_output.Writer, stream.Id, _encodeScratch.WrittenSpan, endStream, _peerSettings.MaxFrameSize);
        stream.HeadersSent = true;
        if (endStream)
        {
            stream.LocalClosed = true;
            RemoveIfDoneLocked(stream);
        }
    }

    private void WriteGoAwayLocked(Http2ErrorCode code, string debug)
    {
        _goAwaySent = true;
        int n = Math.Min(debug.Length, 256);
        Span<byte> bytes = stackalloc byte[n];
        Encoding.ASCII.GetBytes(debug.AsSpan(0, n), bytes);
        FrameWriter.WriteGoAway(_output.Writer, _highestPeerStreamId, code, bytes);
        _output.Commit();
    }

    private void SendGoAway(Http2ErrorCode code, string debug)
    {
        lock (_sync)
        {
            if (_closed)
                return;
            WriteGoAwayLocked(code, debug);
        }
    }

    private void WriteRstLocked(int streamId, Http2ErrorCode code)
    {
        _resetByUs[_resetByUsNext] = streamId;
        _resetByUsNext = (_resetByUsNext + 1) % _resetByUs.Length;
        FrameWriter.WriteRstStream(_output.Writer, streamId, code);
        _output.Commit();
    }

    // ------------------------------------------------------------------ read side

    private async Task ReadClientPrefaceAsync(CancellationToken ct)
    {
        int need = FrameReader.ClientPreface.Length;
        while (true)
        {
            var result = await _input.ReadAsync(ct).ConfigureAwait(false);
            var buffer = result.Buffer;
            // Compare what has arrived so far: a short HTTP/1 request ("GET / HTTP/1.1\r\n\r\n" is 18 bytes)
            // is rejected at once instead of waiting out the preface timeout for bytes that never come.
            if (CheckPreface(buffer) is { } mismatch)
            {
                _input.AdvanceTo(buffer.End); // leave the reader consistent for the linger after our GOAWAY
                throw Http2ProtocolException.Connection(Http2ErrorCode.ProtocolError, "invalid connection preface: " + mismatch);
            }
            if (buffer.Length >= need)
            {
                _input.AdvanceTo(buffer.GetPosition(need));
                return;
            }
            _input.AdvanceTo(buffer.Start, buffer.End);
            if (result.IsCompleted)
                throw new IOException("connection closed before the HTTP/2 preface");
        }
    }

    /// <summary>Null when the bytes so far are a prefix of (or start with) the client preface, else what they were.</summary>
    private static string? CheckPreface(in ReadOnlySequence<byte> buffer)
    {
        var preface = FrameReader.ClientPreface;
        int have = (int)Math.Min(buffer.Length, preface.Length);
        Span<byte> got = stackalloc byte[preface.Length];
        buffer.Slice(0, have).CopyTo(got);
        return got[..have].SequenceEqual(preface[..have]) ? null : Describe(got[..have]);
    }

    private static string Describe(ReadOnlySpan<byte> bytes)
    {
        var sb = new StringBuilder();
        foreach (byte b in bytes)
            sb.Append(b is >= 0x20 and < 0x7f ? (char)b : '.');
        var text = sb.ToString();
        return text.Contains("HTTP/1") ? $"'{text}' (an HTTP/1 request)" : $"'{text}'";
    }

    private async Task ReadFramesAsync(bool untilFirstSettings, CancellationToken ct)
    {
        while (true)
        {
            var result = await _input.ReadAsync(ct).ConfigureAwait(false);
            var buffer = result.Buffer;
            bool stopEarly = false;
            try
            {
                while (FrameReader.TryReadFrame(ref buffer, _options.MaxFrameSize, out var header, out var payload))
                {
                    // The preface's SETTINGS carries the peer's settings: an ACK cannot be it.
                    if (!_settingsReceived && (header.Type != FrameType.Settings || header.HasFlag(FrameFlags.Ack)))
                        throw Http2ProtocolException.Connection(Http2ErrorCode.ProtocolError, $"first frame is {header.Type}{(header.Type == FrameType.Settings ? " ACK" : "")}, not SETTINGS");
                    ProcessFrame(header, payload);
                    if (untilFirstSettings && _settingsReceived)
                    {
                        stopEarly = true;
                        return;
                    }
                }
            }
            finally
            {
                // Stopping early leaves whole frames buffered: mark nothing examined so the next read returns them.
                if (stopEarly)
                    _input.AdvanceTo(buffer.Start);
                else
                    _input.AdvanceTo(buffer.Start, buffer.End);
            }
            CheckOutputBacklog();
            if (result.IsCompleted)
            {
                if (buffer.Length > 0)
                    throw new IOException("connection closed inside a frame");
                return;
            }
        }
    }

    /// <summary>
    /// DATA writers keep the output within MaxBufferedOutput, and everything else we send is small. A backlog well
    /// beyond that means the peer keeps sending frames we must answer (acks, RST_STREAM for refused or closed
    /// streams) while not reading the answers: end it before it grows our memory without bound.
    /// </summary>
    private void CheckOutputBacklog()
    {
        if (_output.Buffered > 2L * _options.MaxBufferedOutput + 64 * 1024)
            throw Http2ProtocolException.Connection(Http2ErrorCode.EnhanceYourCalm, $"peer does not read: {_output.Buffered} bytes of output queued");
    }

    private void ProcessFrame(in FrameHeader h, in ReadOnlySequence<byte> payload)
    {
        if (_headerBlockStreamId != 0 && (h.Type != FrameType.Continuation || h.StreamId != _headerBlockStreamId))
            throw Http2ProtocolException.Connection(Http2ErrorCode.ProtocolError, $"{h.Type} frame while a header block on stream {_headerBlockStreamId} awaits CONTINUATION");
        try
        {
            FrameReader.ValidateLayout(h);
            switch (h.Type)
            {
                case FrameType.Data: OnData(h, payload); break;
                case FrameType.Headers: OnHeaders(h, payload); break;
                case FrameType.Continuation: OnContinuation(h, payload); break;
                case FrameType.Priority: CountFlood(); break;
                case FrameType.RstStream: OnRstStream(h, payload); break;
                case FrameType.Settings: OnSettings(h, payload); break;
                case FrameType.Ping: OnPing(h, payload); break;
                case FrameType.GoAway: OnGoAway(payload); break;
                case FrameType.WindowUpdate: OnWindowUpdate(h, payload); break;
                default: break; // RFC 9113 §4.1: unknown frame types are ignored.
            }
        }
        catch (Http2ProtocolException e) when (!e.IsConnectionError)
        {
            _log.LogDebug("HTTP/2 stream {Stream} from {Remote} reset: {Code} {Reason}", e.StreamId, Info.RemoteEndPoint, e.Code, e.Message);
            lock (_sync)
            {
                // RST_STREAM must not be sent for an idle stream (RFC 9113 §5.1), and any frame there but HEADERS
                // or PRIORITY is a connection error anyway (e.g. a zero WINDOW_UPDATE on a stream never opened).
                if (h.Type != FrameType.Priority && IsIdleLocked(e.StreamId))
                    throw Http2ProtocolException.Connection(Http2ErrorCode.ProtocolError, $"{h.Type} on idle stream {e.StreamId}: {e.Message}");
                WriteRstLocked(e.StreamId, e.Code);
                if (_streams.TryGetValue(e.StreamId, out var s))
                    MarkResetLocked(s, e.Code, byPeer: false);
            }
        }
    }

    private void OnData(in FrameHeader h, in ReadOnlySequence<byte> payload)
    {
        var content = FrameReader.GetContent(h, payload);
        int length = h.Length;
        bool end = h.HasFlag(FrameFlags.EndStream);
        Http2Stream? stream;
        lock (_sync)
        {
            if (length > _connReceiveWindow)
                throw Http2ProtocolException.Connection(Http2ErrorCode.FlowControlError, $"DATA of {length} bytes exceeds the connection window {_connReceiveWindow}");
            _connReceiveWindow -= length;
            if (!_streams.TryGetValue(h.StreamId, out stream))
            {
                if (IsIdleLocked(h.StreamId))
                    throw Http2ProtocolException.Connection(Http2ErrorCode.ProtocolError, $"DATA on idle stream {h.StreamId}");
                CreditLocked(null, length);
                if (!WasResetByUsLocked(h.StreamId))
                    WriteRstLocked(h.StreamId, Http2ErrorCode.StreamClosed);
                _output.Commit();
                return;
            }
            if (stream.RemoteClosed)
            {
                CreditLocked(null, length);
                throw Http2ProtocolException.Stream(h.StreamId, Http2ErrorCode.StreamClosed, "DATA after END_STREAM");
            }
            if (length > stream.ReceiveWindow)
                throw Http2ProtocolException.Connection(Http2ErrorCode.FlowControlError, $"DATA of {length} bytes exceeds stream {h.StreamId}'s window {stream.ReceiveWindow}");
            stream.ReceiveWindow -= length;
            if (content.Length == 0 && !end)
                CountFlood();
            // Padding is never seen by the application: credit it back now. Bytes for an abandoned input too.
            int uncredited = stream.InputAbandoned ? length : length - (int)content.Length;
            if (uncredited > 0)
            {
                CreditLocked(stream, uncredited);
                _output.Commit();
            }
            // Copied under the lock because an application-side reset completes the same pipe.
            var writer = stream.InputPipe.Writer;
            if (!stream.InputAbandoned && content.Length > 0)
            {
                foreach (var segment in content)
                    writer.Write(segment.Span);
                _ = writer.FlushAsync();
                stream.BufferedInput += (int)content.Length;
                _bufferedInput += content.Length;
            }
            if (end)
            {
                stream.RemoteClosed = true;
                writer.Complete();
                RemoveIfDoneLocked(stream);
            }
        }
    }

    private void OnHeaders(in FrameHeader h, in ReadOnlySequence<byte> payload)
    {
        var fragment = FrameReader.GetContent(h, payload);
        _headerBlock.ResetWrittenCount();
        _continuationFrames = 0;
        _headerBlockFlags = h.Flags;
        AppendHeaderFragment(fragment);
        if (h.HasFlag(FrameFlags.EndHeaders))
            OnHeaderBlock(h.StreamId);
        else
            _headerBlockStreamId = h.StreamId;
    }

    private void OnContinuation(in FrameHeader h, in ReadOnlySequence<byte> payload)
    {
        if (_headerBlockStreamId == 0)
            throw Http2ProtocolException.Connection(Http2ErrorCode.ProtocolError, "CONTINUATION without a preceding HEADERS");
        if (++_continuationFrames > _options.MaxContinuationFrames)
            throw Http2ProtocolException.Connection(Http2ErrorCode.EnhanceYourCalm, $"header block spread over more than {_options.MaxContinuationFrames} CONTINUATION frames");
        AppendHeaderFragment(payload);
        if (h.HasFlag(FrameFlags.EndHeaders))
        {
            int id = _headerBlockStreamId;
            _headerBlockStreamId = 0;
            OnHeaderBlock(id);
        }
    }

    private void AppendHeaderFragment(in ReadOnlySequence<byte> fragment)
    {
        // The encoded block can never legitimately exceed the decoded bound.
        if (_headerBlock.WrittenCount + fragment.Length > _options.MaxHeaderListSize)
            throw Http2ProtocolException.Connection(Http2ErrorCode.EnhanceYourCalm, $"header block larger than {_options.MaxHeaderListSize} bytes");
        foreach (var segment in fragment)
            _headerBlock.Write(segment.Span);
    }

    private void OnHeaderBlock(int streamId)
    {
        _decoded.Clear();
        // Always decode, even for a stream we will refuse: the HPACK table is shared by the connection.
        _decoder.Decode(_headerBlock.WrittenSpan, _decoded);
        bool end = (_headerBlockFlags & FrameFlags.EndStream) != 0;
        if (_options.IsServer)
            OnRequestHeaders(streamId, end);
        else
            OnResponseHeaders(streamId, end);
    }

    private void OnRequestHeaders(int streamId, bool endStream)
    {
        Http2Stream stream;
        lock (_sync)
        {
            if (_streams.TryGetValue(streamId, out var existing))
            {
                // Trailers: must end the stream. Tunnels have none, but they are legal.
                if (existing.RemoteClosed)
                    throw Http2ProtocolException.Stream(streamId, Http2ErrorCode.StreamClosed, "HEADERS after END_STREAM");
                if (!endStream)
                    throw Http2ProtocolException.Stream(streamId, Http2ErrorCode.ProtocolError, "trailers without END_STREAM");
                existing.RemoteClosed = true;
                existing.InputPipe.Writer.Complete();
                RemoveIfDoneLocked(existing);
                return;
            }
            if (streamId <= _highestPeerStreamId && WasResetByUsLocked(streamId))
                return; // trailers the peer sent before it saw our RST_STREAM (already decoded: HPACK state is shared)
            if ((streamId & 1) == 0 || streamId <= _highestPeerStreamId)
                throw Http2ProtocolException.Connection(Http2ErrorCode.ProtocolError, $"client opened stream {streamId} (must be odd and increasing; last was {_highestPeerStreamId})");
            _highestPeerStreamId = streamId;
            if (_goAwaySent || _closed)
            {
                WriteRstLocked(streamId, Http2ErrorCode.RefusedStream);
                return;
            }
            if (_peerStreams >= _options.MaxConcurrentStreams)
            {
                _log.LogDebug("refusing stream {Stream} from {Remote}: {Limit} streams open", streamId, Info.RemoteEndPoint, _options.MaxConcurrentStreams);
                WriteRstLocked(streamId, Http2ErrorCode.RefusedStream);
                // A peer that ignores our advertised limit makes us decode and answer for nothing: count it like
                // a reset it caused.
                CountPeerResetLocked();
                return;
            }
            HeaderRules.ValidateRequest(streamId, _decoded);
            stream = new Http2Stream(this, streamId, _peerSettings.InitialWindowSize, _options.StreamWindow)
            {
                RequestHeaders = _decoded.ToArray(),
            };
            _streams.Add(streamId, stream);
            _peerStreams++;
            _lastActivity = Environment.TickCount64;
            if (endStream)
            {
                stream.RemoteClosed = true;
                stream.InputPipe.Writer.Complete();
            }
        }
        _ = RunStreamHandlerAsync(stream);
    }

    private async Task RunStreamHandlerAsync(Http2Stream stream)
    {
        await Task.Yield();
        try
        {
            await _onStream!(stream).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            _log.LogWarning(e, "stream {Stream} handler from {Remote} failed", stream.Id, Info.RemoteEndPoint);
            stream.Reset(Http2ErrorCode.InternalError);
        }
        lock (_sync)
        {
            if (_closed)
                return;
            // The handler is done with the stream: input it left unread would otherwise hold connection window.
            stream.InputAbandoned = true;
            ReleaseBufferedInputLocked(stream, creditStream: true);
            if (stream.LocalClosed || stream.IsReset)
                return;
            // The handler returned without ending its side: end it rather than leak the stream.
            if (stream.HeadersSent)
            {
                FrameWriter.WriteData(_output.Writer, stream.Id, default, endStream: true);
                stream.LocalClosed = true;
                _output.Commit();
                RemoveIfDoneLocked(stream);
            }
            else
            {
                // No response at all: reset, which also frees the stream's slot (half-closing with a RST_STREAM
                // would leave it counted against MaxConcurrentStreams until the peer happened to end its side).
                WriteRstLocked(stream.Id, Http2ErrorCode.InternalError);
                MarkResetLocked(stream, Http2ErrorCode.InternalError, byPeer: false);
            }
        }
    }

    private void OnResponseHeaders(int streamId, bool endStream)
    {
        lock (_sync)
        {
            if (!_streams.TryGetValue(streamId, out var stream))
            {
                if ((streamId & 1) == 0 || IsIdleLocked(streamId))
                    throw Http2ProtocolException.Connection(Http2ErrorCode.ProtocolError, $"HEADERS on stream {streamId} the client never opened");
                if (!WasResetByUsLocked(streamId))
                    WriteRstLocked(streamId, Http2ErrorCode.StreamClosed);
                _output.Commit();
                return;
            }
            if (stream.RemoteClosed)
                throw Http2ProtocolException.Stream(streamId, Http2ErrorCode.StreamClosed, "HEADERS after END_STREAM");
            if (stream.ResponseHeaders.IsCompleted)
            {
                if (!endStream)
                    throw Http2ProtocolException.Stream(streamId, Http2ErrorCode.ProtocolError, "trailers without END_STREAM");
            }
            else
            {
                HeaderRules.ValidateResponse(streamId, _decoded);
                var status = HeaderRules.Get(_decoded, ":status")!;
                if (status[0] == '1')
                    return; // informational; the final response follows
                stream.SetResponseHeaders(_decoded.ToArray());
            }
            if (endStream)
            {
                stream.RemoteClosed = true;
                stream.InputPipe.Writer.Complete();
                RemoveIfDoneLocked(stream);
            }
        }
    }

    private void OnRstStream(in FrameHeader h, in ReadOnlySequence<byte> payload)
    {
        var code = (Http2ErrorCode)FrameReader.ReadUInt32(payload);
        lock (_sync)
        {
            if (!_streams.TryGetValue(h.StreamId, out var stream))
            {
                if (IsIdleLocked(h.StreamId))
                    throw Http2ProtocolException.Connection(Http2ErrorCode.ProtocolError, $"RST_STREAM on idle stream {h.StreamId}");
                return;
            }
            // Rapid reset (CVE-2023-44487) is HEADERS then RST_STREAM before the stream did anything: count only
            // resets of streams we had not answered yet or that are very young. A client that cancels tunnels it
            // has been using (its TCP peer went away) is not attacking and must not lose its other streams.
            bool rapid = !stream.HeadersSent || Environment.TickCount64 - stream.OpenedAt < RapidResetMs;
            MarkResetLocked(stream, code, byPeer: true);
            if (_options.IsServer && rapid)
                CountPeerResetLocked();
        }
    }

    private void CountPeerResetLocked()
    {
        long now = Environment.TickCount64;
        if (now - _resetWindowStart > 10_000)
        {
            _resetWindowStart = now;
            _peerResets = 0;
            _completedStreams = 0;
        }
        if (++_peerResets > _options.MaxResetsPerWindow && _peerResets > 2 * _completedStreams)
            throw Http2ProtocolException.Connection(Http2ErrorCode.EnhanceYourCalm, $"{_peerResets} streams reset by the peer within 10 s (rapid reset)");
    }

    private void OnSettings(in FrameHeader h, in ReadOnlySequence<byte> payload)
    {
        if (h.HasFlag(FrameFlags.Ack))
        {
            Volatile.Write(ref _settingsSentAt, 0);
            return;
        }
        CountFlood();
        lock (_sync)
        {
            int oldWindow = _peerSettings.InitialWindowSize;
            FrameReader.ReadSettings(payload, _peerSettings);
            int delta = _peerSettings.InitialWindowSize - oldWindow;
            if (delta != 0)
            {
                foreach (var s in _streams.Values)
                {
                    s.SendWindow += delta;
                    if (s.SendWindow > MaxWindow)
                        throw Http2ProtocolException.Connection(Http2ErrorCode.FlowControlError, "SETTINGS_INITIAL_WINDOW_SIZE change overflows a stream window");
                }
                if (delta > 0)
                    WakeBlockedLocked();
            }
            _encoder.SetPeerMaxTableSize((int)Math.Min(_peerSettings.HeaderTableSize, 4096u));
            _settingsReceived = true;
            _ready.TrySetResult();
            FrameWriter.WriteSettingsAck(_output.Writer);
            _output.Commit();
        }
    }

    private void OnPing(in FrameHeader h, in ReadOnlySequence<byte> payload)
    {
        ulong opaque = FrameReader.ReadPingPayload(payload);
        if (h.HasFlag(FrameFlags.Ack))
        {
            Volatile.Write(ref _pingSentAt, 0);
            return;
        }
        CountFlood();
        lock (_sync)
        {
            FrameWriter.WritePing(_output.Writer, opaque, ack: true);
            _output.Commit();
        }
    }

    private void OnGoAway(in ReadOnlySequence<byte> payload)
    {
        var (lastId, code) = FrameReader.ReadGoAway(payload);
        lock (_sync)
        {
            _goAwayReceivedLastId = lastId;
            if (code != Http2ErrorCode.NoError)
                _log.LogInformation("peer {Remote} sent GOAWAY {Code}", Info.RemoteEndPoint, code);
            // Streams we opened above lastId were never processed: fail them so callers may retry elsewhere.
            List<Http2Stream>? refused = null;
            foreach (var s in _streams.Values)
                if ((s.Id & 1) == (_options.IsServer ? 0 : 1) && s.Id > lastId)
                    (refused ??= new()).Add(s);
            if (refused is not null)
                foreach (var s in refused)
                    MarkResetLocked(s, Http2ErrorCode.RefusedStream, byPeer: true);
            if (_streams.Count == 0)
                CloseGracefullyLocked("GOAWAY received");
        }
    }

    private void OnWindowUpdate(in FrameHeader h, in ReadOnlySequence<byte> payload)
    {
        int increment = FrameReader.ReadWindowIncrement(h, payload);
        lock (_sync)
        {
            if (h.StreamId == 0)
            {
                _connSendWindow += increment;
                if (_connSendWindow > MaxWindow)
                    throw Http2ProtocolException.Connection(Http2ErrorCode.FlowControlError, "connection window exceeds 2^31-1");
                WakeBlockedLocked();
                return;
            }
            if (!_streams.TryGetValue(h.StreamId, out var stream))
            {
                if (IsIdleLocked(h.StreamId))
                    throw Http2ProtocolException.Connection(Http2ErrorCode.ProtocolError, $"WINDOW_UPDATE on idle stream {h.StreamId}");
                return;
            }
            stream.SendWindow += increment;
            if (stream.SendWindow > MaxWindow)
                throw Http2ProtocolException.Stream(h.StreamId, Http2ErrorCode.FlowControlError, "stream window exceeds 2^31-1");
            if (stream.SendSignal is { } signal)
            {
                stream.SendSignal = null;
                signal.TrySetResult();
            }
        }
    }

    // ------------------------------------------------------------------ state helpers (under _sync)

    private bool WasResetByUsLocked(int streamId)
    {
        foreach (int id in _resetByUs)
            if (id == streamId)
                return true;
        return false;
    }

    /// <summary>True when no stream with this id was ever opened (RFC 9113 §5.1 "idle").</summary>
    private bool IsIdleLocked(int streamId)
    {
        bool peerInitiated = (streamId & 1) == (_options.IsServer ? 1 : 0);
        return peerInitiated ? streamId > _highestPeerStreamId : streamId >= _nextLocalStreamId;
    }

    private void MarkResetLocked(Http2Stream stream, Http2ErrorCode code, bool byPeer)
    {
        if (stream.IsReset)
            return;
        stream.ResetCode = code;
        stream.ResetByPeer = byPeer;
        var error = new Http2StreamResetException(code, byPeer ? $"stream reset by peer ({code})" : $"stream reset ({code})");
        stream.FailResponseHeaders(error);
        if (!stream.RemoteClosed)
            stream.InputPipe.Writer.Complete(error);
        // The application can no longer read what is buffered (a faulted pipe throws before returning data).
        ReleaseBufferedInputLocked(stream, creditStream: false);
        stream.RemoteClosed = stream.LocalClosed = true;
        if (stream.SendSignal is { } signal)
        {
            stream.SendSignal = null;
            signal.TrySetResult();
        }
        RemoveLocked(stream);
    }

    private void RemoveIfDoneLocked(Http2Stream stream)
    {
        if (stream.LocalClosed && stream.RemoteClosed)
        {
            _completedStreams++;
            RemoveLocked(stream);
        }
    }

    private void RemoveLocked(Http2Stream stream)
    {
        if (!_streams.Remove(stream.Id))
            return;
        bool local = (stream.Id & 1) == (_options.IsServer ? 0 : 1);
        if (local) _localStreams--; else _peerStreams--;
        _blocked.Remove(stream);
        _lastActivity = Environment.TickCount64;
        if ((_goAwaySent || _goAwayReceivedLastId >= 0) && _streams.Count == 0)
            CloseGracefullyLocked(_goAwaySent ? "drained" : "GOAWAY received");
    }

    private void WakeBlockedLocked()
    {
        foreach (var s in _blocked)
        {
            if (s.SendSignal is { } signal)
            {
                s.SendSignal = null;
                signal.TrySetResult();
            }
        }
        _blocked.Clear();
    }

    private void OnOutputDrained()
    {
        lock (_sync)
            WakeBlockedLocked();
    }

    private void CountFlood()
    {
        long now = Environment.TickCount64;
        if (now - _floodWindowStart > 1000)
        {
            _floodWindowStart = now;
            _floodCount = 0;
        }
        if (++_floodCount > _options.MaxControlFramesPerSecond)
            throw Http2ProtocolException.Connection(Http2ErrorCode.EnhanceYourCalm, $"more than {_options.MaxControlFramesPerSecond} control frames per second (flood)");
        CheckOutputBacklog();
    }

    private void OnKeepAliveTick()
    {
        long now = Environment.TickCount64;
        long settingsSent = Volatile.Read(ref _settingsSentAt);
        if (settingsSent != 0 && now - settingsSent > _options.PingTimeout.TotalMilliseconds)
        {
            _log.LogWarning("HTTP/2 peer {Remote} did not acknowledge SETTINGS; closing", Info.RemoteEndPoint);
            SendGoAway(Http2ErrorCode.SettingsTimeout, "SETTINGS not acknowledged");
            Abort("SETTINGS timeout");
            return;
        }
        long pingSent = Volatile.Read(ref _pingSentAt);
        if (pingSent != 0)
        {
            if (now - pingSent >= _options.PingTimeout.TotalMilliseconds)
            {
                _log.LogWarning("HTTP/2 peer {Remote} did not answer PING within {Timeout} s; closing", Info.RemoteEndPoint, _options.PingTimeout.TotalSeconds);
                Abort("PING timeout");
            }
            return;
        }
        if (now - _lastPingAt < _options.PingInterval.TotalMilliseconds)
            return;
        lock (_sync)
        {
            if (_closed)
                return;
            _lastPingAt = now;
            Volatile.Write(ref _pingSentAt, now);
            FrameWriter.WritePing(_output.Writer, (ulong)now, ack: false);
            _output.Commit();
        }
    }

    /// <summary>Fails every open stream and closes the output. Runs from the read loop's exit.</summary>
    private void Shutdown(string reason)
    {
        lock (_sync)
        {
            // Not skipped when already _closed: a graceful close has no streams, but fail any that remain regardless.
            _closed = true;
            _closeReason ??= reason;
            foreach (var stream in _streams.Values)
            {
                var error = new Http2StreamResetException(Http2ErrorCode.Cancel, "connection closed: " + _closeReason);
                stream.ResetCode ??= Http2ErrorCode.Cancel;
                stream.FailResponseHeaders(error);
                if (!stream.RemoteClosed)
                    stream.InputPipe.Writer.Complete(error);
                stream.SendSignal?.TrySetResult();
            }
            _streams.Clear();
            _blocked.Clear();
            _output.Complete();
        }
        Debug.Assert(_closed);
    }
}

using System.Collections.Concurrent;
using Ambient.Authorization;
using Ambient.Config;
using Microsoft.Extensions.Logging;

namespace Ambient.Daemon.Proxy;

/// <summary>
/// The open inbound connections with what authorization decided them on, so a policy change can re-check them:
/// a connection the new policies no longer allow is closed (DESIGN.md §6).
/// </summary>
public sealed class ConnectionRegistry(ILogger log)
{
    private readonly ConcurrentDictionary<long, Tracked> _open = new();
    private long _next;

    private sealed record Tracked(ConnectionFacts Facts, bool Plaintext, CancellationTokenSource Close);

    public int Count => _open.Count;

    /// <summary>Tracks a connection until the returned lease is disposed; its token fires when policy closes it.</summary>
    public Lease Track(ConnectionFacts facts, bool plaintext)
    {
        long id = Interlocked.Increment(ref _next);
        var cts = new CancellationTokenSource();
        _open[id] = new Tracked(facts, plaintext, cts);
        return new Lease(this, id, cts);
    }

    /// <summary>Re-evaluates every open connection against <paramref name="snapshot"/>; returns how many were closed.</summary>
    public int Recheck(MeshSnapshot snapshot)
    {
        int closed = 0;
        foreach (var (_, t) in _open)
        {
            var destination = snapshot.WorkloadByUid(t.Facts.Destination.Uid) ?? t.Facts.Destination;
            var facts = t.Facts with { Destination = destination };
            string? reason = null;
            if (t.Plaintext && InboundPlaintext.PeerAuthenticationMode(snapshot, destination, t.Facts.DestinationPort) == MtlsMode.Strict)
                reason = "PeerAuthentication is now STRICT";
            else if (L4Authorizer.Evaluate(snapshot.PoliciesFor(destination), facts) is { Allowed: false } decision)
                reason = decision.Reason;
            if (reason is null)
                continue;
            log.LogWarning("closing connection from {Identity} ({Source}) to {Destination}:{Port}: no longer allowed: {Reason}",
                facts.SourceIdentity ?? "(plaintext)", facts.SourceIp, $"{destination.Namespace}/{destination.Name}", facts.DestinationPort, reason);
            try { t.Close.Cancel(); } catch (ObjectDisposedException) { }
            closed++;
        }
        return closed;
    }

    public readonly struct Lease(ConnectionRegistry owner, long id, CancellationTokenSource close) : IDisposable
    {
        public CancellationToken Closed => close.Token;
        public bool ClosedByPolicy => close.IsCancellationRequested;

        public void Dispose()
        {
            if (owner._open.TryRemove(id, out _))
                close.Dispose();
        }
    }
}

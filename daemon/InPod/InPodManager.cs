using System.Net;
using Ambient.Config;
using Ambient.Daemon.Proxy;
using Ambient.NodeAgent;
using Microsoft.Extensions.Logging;
using Microsoft.Win32.SafeHandles;

namespace Ambient.Daemon.InPod;

/// <summary>
/// In-pod mode: the node agent hands over each enrolled pod's network namespace and this opens the pod's
/// listeners (15001, 15006, 15008) inside it, with the pod's own identity. Pods the agent's snapshot no longer
/// lists are dropped.
/// </summary>
public sealed class InPodManager(ProxyContext context) : INodeAgentHandler, IAsyncDisposable
{
    private readonly ILogger _log = context.Logs.CreateLogger("inpod");
    private readonly NetnsRunner _runner = new();
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly Dictionary<string, EnrolledPod> _pods = new();

    private sealed record EnrolledPod(PodInfo Info, WorkloadListeners Listeners, PodPlacement Placement, IPAddress Address);

    public int Count { get { _gate.Wait(); try { return _pods.Count; } finally { _gate.Release(); } } }

    public async Task<string?> AddAsync(PodInfo pod, SafeFileHandle netns, bool keep)
    {
        await _gate.WaitAsync().ConfigureAwait(false);
        try
        {
            if (_pods.TryGetValue(pod.Uid, out var existing))
            {
                if (keep || existing.Info.Equals(pod))
                {
                    netns.Dispose();
                    return null;
                }
                await RemoveLockedAsync(pod.Uid).ConfigureAwait(false);
            }
            var workload = FindWorkload(context.Config.Current, pod);
            var placement = new PodPlacement(_runner, netns);
            var listeners = new WorkloadListeners(context, workload, placement);
            try
            {
                await listeners.StartAsync().ConfigureAwait(false);
            }
            catch (Exception e)
            {
                placement.Dispose();
                _log.LogError("cannot serve pod {Pod}: {Error}", pod, e.Message);
                return $"cannot serve pod {pod.Namespace}/{pod.Name}: {e.Message}";
            }
            var address = workload.Addresses[0];
            context.Placements[address] = placement;
            _pods[pod.Uid] = new EnrolledPod(pod, listeners, placement, address);
            _log.LogInformation("pod {Namespace}/{Name} enrolled ({Identity}, {Address})", pod.Namespace, pod.Name, workload.Identity, address);
            return null;
        }
        finally
        {
            _gate.Release();
        }
    }

    public async Task<string?> DeleteAsync(string uid)
    {
        await _gate.WaitAsync().ConfigureAwait(false);
        try
        {
            await RemoveLockedAsync(uid).ConfigureAwait(false);
            return null;
        }
        finally
        {
            _gate.Release();
        }
    }

    public async Task SnapshotCompleteAsync(IReadOnlySet<string> uidsInSnapshot)
    {
        await _gate.WaitAsync().ConfigureAwait(false);
        try
        {
            foreach (var uid in _pods.Keys.ToArray())
                if (!uidsInSnapshot.Contains(uid))
                    await RemoveLockedAsync(uid).ConfigureAwait(false);
            _log.LogInformation("node agent snapshot applied: {Count} pods enrolled", _pods.Count);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>
    /// The config's workload for the pod (by uid, then address, then namespace/name); a pod the config does not
    /// know gets an entry from what the agent reported, so it still has its identity.
    /// </summary>
    internal static Workload FindWorkload(MeshSnapshot snapshot, PodInfo pod)
    {
        if (snapshot.WorkloadByUid(pod.Uid) is { } byUid)
            return byUid;
        foreach (var ip in pod.Ips)
            if (snapshot.WorkloadByAddress(ip) is { } byIp)
                return byIp;
        foreach (var w in snapshot.Config.Workloads)
            if (w.Namespace == pod.Namespace && w.Name == pod.Name)
                return w;
        if (pod.Ips.Count == 0)
            throw new ArgumentException($"pod {pod.Namespace}/{pod.Name} has no IP address");
        return new Workload
        {
            Uid = pod.Uid,
            Name = pod.Name,
            Namespace = pod.Namespace,
            ServiceAccount = string.IsNullOrEmpty(pod.ServiceAccount) ? "default" : pod.ServiceAccount,
            TrustDomain = snapshot.TrustDomain,
            Addresses = [.. pod.Ips],
        };
    }

    private async Task RemoveLockedAsync(string uid)
    {
        if (!_pods.Remove(uid, out var pod))
            return;
        context.Placements.TryRemove(pod.Address, out _);
        await pod.Listeners.DisposeAsync().ConfigureAwait(false);
        pod.Placement.Dispose();
        _log.LogInformation("pod {Namespace}/{Name} removed", pod.Info.Namespace, pod.Info.Name);
    }

    /// <summary>Drain: closes every pod's listeners; connections already accepted carry on.</summary>
    public async Task StopAcceptingAsync()
    {
        await _gate.WaitAsync().ConfigureAwait(false);
        try
        {
            foreach (var pod in _pods.Values)
                await pod.Listeners.DisposeAsync().ConfigureAwait(false);
        }
        finally
        {
            _gate.Release();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _gate.WaitAsync().ConfigureAwait(false);
        foreach (var uid in _pods.Keys.ToArray())
            await RemoveLockedAsync(uid).ConfigureAwait(false);
        _gate.Release();
        _runner.Dispose();
    }
}

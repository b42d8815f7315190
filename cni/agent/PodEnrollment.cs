using System.Net;
using System.Text.Json;
using Ambient.Config;
using Ambient.NodeAgent;
using Microsoft.Extensions.Logging;

namespace Ambient.Cni.Agent;

/// <summary>A pod the agent has enrolled: who it is and where its network namespace is.</summary>
public sealed record EnrolledPod(string Uid, string Name, string Namespace, string ServiceAccount, string[] Ips, string NetnsPath)
{
    public PodInfo ToPodInfo() => new(Uid, Name, Namespace, ServiceAccount, [.. Ips.Select(IPAddress.Parse)]);
}

/// <summary>
/// Decides which pods join the mesh and makes it so: installs the redirect rules in the pod's namespace, hands
/// the namespace to the daemon, and undoes both when the pod leaves. Membership comes from the mesh config: a
/// pod whose workload is in the config with protocol HBONE is in the mesh (a waypoint's own pod is not: it speaks
/// HBONE itself). The enrolled set is saved to a state file and, on restart, rebuilt from the pods whose rules are
/// still in place.
/// </summary>
public sealed class PodEnrollment(ConfigStore config, NodeAgentClient daemon, string statePath, ILogger log)
{
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly Dictionary<string, EnrolledPod> _pods = new();

    public IReadOnlyCollection<EnrolledPod> Pods { get { _gate.Wait(); try { return [.. _pods.Values]; } finally { _gate.Release(); } } }

    /// <summary>Restores the enrolled set after an agent restart and hands it to the daemon.</summary>
    public async Task RestoreAsync()
    {
        PodRedirection.InstallNode();
        if (!File.Exists(statePath))
            return;
        EnrolledPod[] saved;
        try
        {
            saved = JsonSerializer.Deserialize(File.ReadAllText(statePath), AgentStateJson.Default.EnrolledPodArray) ?? [];
        }
        catch (JsonException e)
        {
            log.LogWarning("ignoring unreadable state file {Path}: {Error}", statePath, e.Message);
            return;
        }
        foreach (var pod in saved)
        {
            // The rules are the truth: a pod whose namespace is gone or lost its rules is not enrolled any more.
            if (!File.Exists(pod.NetnsPath) || !SafeIsInstalled(pod.NetnsPath))
            {
                log.LogInformation("pod {Namespace}/{Name} is gone or has no rules; forgetting it", pod.Namespace, pod.Name);
                continue;
            }
            PodRedirection.AddProbeTargets(pod.Ips);
            _ = HandToDaemonAsync(pod); // answered when the daemon is (or comes) up; the rules already capture
            _pods[pod.Uid] = pod;
        }
        Save();
        log.LogInformation("restored {Count} enrolled pods", _pods.Count);
    }

    /// <summary>A pod was created (or asked to join): returns null on success, else the reason.</summary>
    public async Task<(string? Error, bool Enrolled)> AddAsync(string uid, string name, string @namespace, string netnsPath, IReadOnlyList<string> ips)
    {
        var workload = Find(config.Current, uid, name, @namespace, ips);
        if (workload is null || workload.Protocol != WorkloadProtocol.Hbone || workload.IsWaypointProxy)
        {
            log.LogInformation("pod {Namespace}/{Name} is not in the mesh; leaving its traffic alone", @namespace, name);
            return (null, false);
        }
        if (!File.Exists(netnsPath))
            return ($"network namespace {netnsPath} does not exist", false);
        var pod = new EnrolledPod(workload.Uid, name.Length > 0 ? name : workload.Name, @namespace.Length > 0 ? @namespace : workload.Namespace,
            workload.ServiceAccount, ips.Count > 0 ? [.. ips] : [.. workload.Addresses.Select(a => a.ToString())], netnsPath);
        await _gate.WaitAsync().ConfigureAwait(false);
        try
        {
            try
            {
                PodRedirection.Install(netnsPath);
                PodRedirection.AddProbeTargets(pod.Ips);
            }
            catch (IOException e)
            {
                return ($"cannot install redirect rules for {pod.Namespace}/{pod.Name}: {e.Message}", false);
            }
            _pods[pod.Uid] = pod;
            Save();
            log.LogInformation("pod {Namespace}/{Name} enrolled: redirect rules installed in {Netns}", pod.Namespace, pod.Name, netnsPath);
        }
        finally
        {
            _gate.Release();
        }
        // The rules are in: traffic is captured from now on. If the daemon is not up yet it gets the pod when it
        // connects (the client replays its snapshot), and until then new connections fail closed.
        var handed = HandToDaemonAsync(pod);
        if (await Task.WhenAny(handed, Task.Delay(TimeSpan.FromSeconds(2))).ConfigureAwait(false) != handed)
        {
            log.LogWarning("daemon has not acknowledged pod {Namespace}/{Name} yet; it gets it when it connects", pod.Namespace, pod.Name);
            return (null, true);
        }
        return (await handed.ConfigureAwait(false), true);
    }

    /// <summary>A pod was deleted or asked to leave: removes its rules (if its namespace still exists) and tells the daemon.</summary>
    public async Task<string?> RemoveAsync(string uid, string name, string @namespace, string netnsPath)
    {
        EnrolledPod? pod;
        await _gate.WaitAsync().ConfigureAwait(false);
        try
        {
            pod = _pods.Values.FirstOrDefault(p => p.Uid == uid && uid.Length > 0)
                  ?? _pods.Values.FirstOrDefault(p => p.NetnsPath == netnsPath && netnsPath.Length > 0)
                  ?? _pods.Values.FirstOrDefault(p => p.Name == name && p.Namespace == @namespace);
            if (pod is null)
                return null;
            _pods.Remove(pod.Uid);
            Save();
        }
        finally
        {
            _gate.Release();
        }
        PodRedirection.RemoveProbeTargets(pod.Ips);
        if (File.Exists(pod.NetnsPath))
        {
            try { PodRedirection.Remove(pod.NetnsPath); }
            catch (IOException e) { log.LogWarning("removing rules of {Namespace}/{Name}: {Error}", pod.Namespace, pod.Name, e.Message); }
        }
        log.LogInformation("pod {Namespace}/{Name} left the mesh", pod.Namespace, pod.Name);
        return await daemon.RemovePodAsync(pod.Uid).ConfigureAwait(false);
    }

    public bool IsEnrolled(string uid, string netnsPath)
    {
        _gate.Wait();
        try { return _pods.Values.Any(p => (uid.Length > 0 && p.Uid == uid) || p.NetnsPath == netnsPath); }
        finally { _gate.Release(); }
    }

    private async Task<string?> HandToDaemonAsync(EnrolledPod pod)
    {
        using var netns = File.OpenHandle(pod.NetnsPath);
        return await daemon.AddPodAsync(pod.ToPodInfo(), netns).ConfigureAwait(false);
    }

    private static Workload? Find(MeshSnapshot snapshot, string uid, string name, string @namespace, IReadOnlyList<string> ips)
    {
        if (uid.Length > 0 && snapshot.WorkloadByUid(uid) is { } byUid)
            return byUid;
        foreach (var ip in ips)
            if (IPAddress.TryParse(ip, out var address) && snapshot.WorkloadByAddress(address) is { } byIp)
                return byIp;
        foreach (var w in snapshot.Config.Workloads)
            if (w.Name == name && w.Namespace == @namespace)
                return w;
        return null;
    }

    private static bool SafeIsInstalled(string netnsPath)
    {
        try { return PodRedirection.IsInstalled(netnsPath); }
        catch (IOException) { return false; }
    }

    private void Save()
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(statePath))!);
        var tmp = statePath + ".tmp";
        File.WriteAllText(tmp, JsonSerializer.Serialize(_pods.Values.ToArray(), AgentStateJson.Default.EnrolledPodArray));
        File.Move(tmp, statePath, overwrite: true);
    }
}

[System.Text.Json.Serialization.JsonSerializable(typeof(EnrolledPod[]))]
internal sealed partial class AgentStateJson : System.Text.Json.Serialization.JsonSerializerContext;

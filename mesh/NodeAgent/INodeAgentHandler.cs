using Microsoft.Win32.SafeHandles;

namespace Ambient.NodeAgent;

/// <summary>
/// What the daemon does with the node agent's messages (<see cref="NodeAgentServer"/> calls it, one call at a time, in
/// message order). A returned string is sent back to the agent as the ack's error; null means success. An exception
/// is logged and acknowledged as an error too.
/// </summary>
public interface INodeAgentHandler
{
    /// <summary>
    /// A pod joined the mesh (<paramref name="keep"/> false: an <c>add</c>), or is part of the agent's snapshot replay
    /// (<paramref name="keep"/> true: a <c>keep</c>, for a pod the daemon may already have; if it has the pod with the
    /// same namespace — compare <see cref="FileIdentity.Of(System.Runtime.InteropServices.SafeHandle)"/> — it should
    /// leave it alone, otherwise treat it as an add). An add for a uid the daemon has replaces that pod.
    /// </summary>
    /// <param name="netns">The pod's network namespace. The handler owns it from this call on and must dispose it
    /// when it no longer needs it (also when it fails); the server never touches it again.</param>
    Task<string?> AddAsync(PodInfo pod, SafeFileHandle netns, bool keep);

    /// <summary>A pod left the mesh. Deleting a uid the daemon does not have should succeed.</summary>
    Task<string?> DeleteAsync(string uid);

    /// <summary>
    /// The agent finished its snapshot replay: <paramref name="uidsInSnapshot"/> are the pods added or kept since its
    /// hello (minus those deleted since). The daemon drops every other pod it has.
    /// </summary>
    Task SnapshotCompleteAsync(IReadOnlySet<string> uidsInSnapshot);
}

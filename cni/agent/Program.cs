using System.Net.Sockets;
using System.Text.Json;
using Ambient.Cni;
using Ambient.Cni.Agent;
using Ambient.Config;
using Ambient.NodeAgent;
using Ambient.Observability;
using Microsoft.Extensions.Logging;

AgentOptions options;
try
{
    options = AgentOptions.Parse(args, out bool help);
    if (help)
    {
        Console.Out.WriteLine(AgentOptions.Usage);
        return 0;
    }
}
catch (ArgumentException e)
{
    Console.Error.WriteLine($"ambient-cni-agent: {e.Message}");
    return 2;
}

if (options.Command is "enroll" or "unenroll")
    return await RequestAsync(options);

using var logs = Logging.Create(options.LogLevel, options.LogFormat);
var log = logs.CreateLogger("agent");
var store = new ConfigStore();
ConfigFileWatcher? watcher = null;
var loaded = options.ConfigPath is { } path
    ? (watcher = new ConfigFileWatcher(path, store, logs.CreateLogger("config"))).Start()
    : ConfigLoader.LoadEmbeddedDefault(1);
if (!loaded.Usable)
{
    log.LogCritical("invalid configuration: {Errors}", string.Join("; ", loaded.Errors));
    return 2;
}
if (options.ConfigPath is null)
    store.Update(loaded.Config!);

using var stop = new Ambient.Hosting.StopSignal();

await using var daemon = new NodeAgentClient(new NodeAgentClientOptions { SocketPath = options.DaemonSocket }, logs.CreateLogger("nodeagent"));
daemon.Start();
var enrollment = new PodEnrollment(store, daemon, options.StateFile, log);
await enrollment.RestoreAsync();
await using var server = new CniEventServer(options.CniSocket, enrollment, log);
try { server.Start(); }
catch (SocketException e)
{
    log.LogCritical("cannot listen on {Socket}: {Error}", options.CniSocket, e.SocketErrorCode);
    return 1;
}
log.LogInformation("node agent running; daemon socket {Daemon}", options.DaemonSocket);
await stop.WaitAsync();
watcher?.Dispose();
log.LogInformation("stopping (enrolled pods keep their rules; a restarted agent picks them up)");
return 0;

static async Task<int> RequestAsync(AgentOptions o)
{
    var request = new AgentRequest(o.Command == "enroll" ? AgentProtocol.Add : AgentProtocol.Del, "manual", o.Netns!, "eth0",
        o.PodName!, o.PodNamespace!, o.PodUid, o.Ips);
    try
    {
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await socket.ConnectAsync(new UnixDomainSocketEndPoint(o.CniSocket), timeout.Token);
        await socket.SendAsync(AgentProtocol.EncodeRequest(request), SocketFlags.None, timeout.Token);
        var buffer = new byte[64 * 1024];
        int n = 0, r;
        while ((r = await socket.ReceiveAsync(buffer.AsMemory(n), SocketFlags.None, timeout.Token)) > 0)
            n += r;
        var response = AgentProtocol.DecodeResponse(buffer.AsSpan(0, n).TrimEnd((byte)'\n'));
        if (!response.Ok)
        {
            Console.Error.WriteLine($"ambient-cni-agent: {o.Command} {o.PodNamespace}/{o.PodName} refused: {response.Error}");
            return 1;
        }
        Console.Out.WriteLine(o.Command == "enroll"
            ? response.Enrolled == true ? $"{o.PodNamespace}/{o.PodName} enrolled" : $"{o.PodNamespace}/{o.PodName} is not in the mesh config; nothing to do"
            : $"{o.PodNamespace}/{o.PodName} unenrolled");
        return 0;
    }
    catch (Exception e) when (e is SocketException or OperationCanceledException or JsonException)
    {
        Console.Error.WriteLine($"ambient-cni-agent: cannot reach the agent at {o.CniSocket}: {e.Message}");
        return 1;
    }
}

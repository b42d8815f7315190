using System.Text.Json.Nodes;

namespace Ambient.Cni;

/// <summary>
/// One invocation, end to end: parse the request, run the command against the node agent, shape the result. Every
/// failure becomes a <see cref="CniOutcome"/> carrying the spec's error result; nothing escapes as an exception.
/// </summary>
/// <param name="connect">Makes the agent client for a configuration (tests hand in a fake).</param>
/// <param name="stderr">Where log lines go.</param>
internal sealed class CniPlugin(Func<NetworkConfig, IAgentClient> connect, TextWriter stderr)
{
    public CniPlugin(TextWriter stderr) : this(config => new UnixAgentClient(config.AgentSocket), stderr) { }

    public async Task<CniOutcome> RunAsync(IReadOnlyDictionary<string, string?> environment, Func<string> readStdin)
    {
        var log = new PluginLog(stderr, PluginLogLevel.Info);
        string? version = null;
        try
        {
            var request = CniRequest.Parse(environment, readStdin);
            if (request.Command == CniCommand.Version)
                return CniOutcome.Success(CniJson.Version());

            var config = request.RequiredConfig;
            version = config.CniVersion;
            log.Minimum = config.LogLevel;
            log.SetContext(request.Command is CniCommand.Add or CniCommand.Del or CniCommand.Check
                ? $"cmd={request.Command.Name()} container={Short(request.ContainerId)} pod={request.Args.PodRef}"
                : $"cmd={request.Command.Name()}");

            return request.Command switch
            {
                CniCommand.Add => await AddAsync(request, config, log),
                CniCommand.Del => await DelAsync(request, config, log),
                CniCommand.Check => await CheckAsync(request, config, log),
                CniCommand.Status => await StatusAsync(config, log),
                _ => Gc(log),
            };
        }
        catch (CniException e)
        {
            var error = version is null ? e.Error : e.Error.WithVersion(version);
            log.Error(error.Details is null ? error.Msg : $"{error.Msg}: {error.Details}");
            return CniOutcome.Failure(error);
        }
        catch (Exception e)
        {
            var error = new CniError(CniErrorCode.InternalError, $"ambient-cni failed unexpectedly: {e.GetType().Name}: {e.Message}", e.ToString(), version);
            log.Error(error.Msg);
            return CniOutcome.Failure(error);
        }
    }

    /// <summary>
    /// ADD, chained: the primary plugin's result names the pod's addresses; the agent sets up redirection; the result
    /// passes through unchanged. Agent unreachable: error 11 (retry), or success with <c>failOpen</c>. Agent refuses: 100.
    /// </summary>
    private async Task<CniOutcome> AddAsync(CniRequest request, NetworkConfig config, PluginLog log)
    {
        var prevResult = config.PrevResult ?? throw NotChained();
        var ips = PrevResult.PodIps(prevResult);
        var client = connect(config);
        try
        {
            var response = await client.SendAsync(ToAgent(AgentProtocol.Add, request, ips));
            if (!response.Ok)
                throw new CniException(CniErrorCode.AgentRefused,
                    $"the ambient node agent refused pod {request.Args.PodRef}: {AgentMessage(response)}");
            log.Info($"pod reported to the node agent (ips {string.Join(",", ips)})");
        }
        catch (AgentUnavailableException e) when (config.FailOpen)
        {
            log.Warn($"{e.Message}; failOpen is set, so the pod starts without mesh traffic redirection");
        }
        catch (AgentUnavailableException e)
        {
            throw new CniException(CniErrorCode.TryAgainLater, e.Message,
                "is the ambient node agent running on this node? The runtime will retry; set \"failOpen\": true in the "
                + "plugin configuration to let pods start without the mesh while the agent is down");
        }
        catch (AgentProtocolException e)
        {
            throw new CniException(CniErrorCode.AgentProtocolError, e.Message);
        }
        return CniOutcome.Success(PrevResult.Render(prevResult, config.CniVersion));
    }

    /// <summary>DEL: tell the agent, best effort. Always succeeds: DEL must be idempotent and tolerate missing pieces.</summary>
    private async Task<CniOutcome> DelAsync(CniRequest request, NetworkConfig config, PluginLog log)
    {
        IReadOnlyList<string> ips = [];
        if (config.PrevResult is { } prevResult)
        {
            try { ips = PrevResult.PodIps(prevResult); }
            catch (CniException e) { log.Warn($"ignoring prevResult: {e.Error.Msg}"); }
        }
        try
        {
            var response = await connect(config).SendAsync(ToAgent(AgentProtocol.Del, request, ips));
            if (response.Ok) log.Info("pod removal reported to the node agent");
            else log.Warn($"the ambient node agent could not remove the pod: {AgentMessage(response)}; DEL succeeds anyway");
        }
        catch (Exception e) when (e is AgentUnavailableException or AgentProtocolException)
        {
            log.Warn($"{e.Message}; DEL succeeds anyway (the agent reconciles when it is back)");
        }
        return CniOutcome.Empty;
    }

    /// <summary>CHECK: ask the agent whether the pod is set up as expected. Not in the mesh is fine.</summary>
    private async Task<CniOutcome> CheckAsync(CniRequest request, NetworkConfig config, PluginLog log)
    {
        var prevResult = config.PrevResult ?? throw NotChained();
        var ips = PrevResult.PodIps(prevResult);
        try
        {
            var response = await connect(config).SendAsync(ToAgent(AgentProtocol.Check, request, ips));
            if (!response.Ok)
                throw new CniException(CniErrorCode.AgentRefused,
                    $"pod {request.Args.PodRef} is not set up as expected: {AgentMessage(response)}");
            log.Debug(response.Enrolled == false ? "the pod is not in the mesh" : "the pod is set up as expected");
        }
        catch (AgentUnavailableException e) when (config.FailOpen)
        {
            log.Warn($"{e.Message}; failOpen is set, so CHECK succeeds");
        }
        catch (AgentUnavailableException e)
        {
            throw new CniException(CniErrorCode.TryAgainLater, e.Message, "is the ambient node agent running on this node?");
        }
        catch (AgentProtocolException e)
        {
            throw new CniException(CniErrorCode.AgentProtocolError, e.Message);
        }
        return CniOutcome.Empty;
    }

    /// <summary>STATUS (CNI 1.1): ready for ADD when the agent accepts connections, or always with <c>failOpen</c>.</summary>
    private async Task<CniOutcome> StatusAsync(NetworkConfig config, PluginLog log)
    {
        try
        {
            await connect(config).ProbeAsync();
        }
        catch (AgentUnavailableException e) when (config.FailOpen)
        {
            log.Debug($"{e.Message}; failOpen is set, so ADD would succeed");
        }
        catch (AgentUnavailableException e)
        {
            throw new CniException(CniErrorCode.PluginNotAvailable, e.Message, "ADD fails until the ambient node agent is running on this node");
        }
        return CniOutcome.Empty;
    }

    /// <summary>GC (CNI 1.1): nothing to collect; the agent reconciles its pods with the runtime itself.</summary>
    private static CniOutcome Gc(PluginLog log)
    {
        log.Debug("nothing to collect");
        return CniOutcome.Empty;
    }

    private static AgentRequest ToAgent(string evt, CniRequest request, IReadOnlyList<string> ips) =>
        new(evt, request.ContainerId, request.Netns, request.IfName,
            request.Args.PodName, request.Args.PodNamespace, request.Args.PodUid, ips);

    private static CniException NotChained() => new(CniErrorCode.InvalidNetworkConfig,
        "ambient-cni must be chained after a primary plugin: the configuration has no prevResult",
        "list ambient-cni after the primary CNI plugin in the \"plugins\" array of the network configuration list");

    private static string AgentMessage(AgentResponse response) =>
        string.IsNullOrWhiteSpace(response.Error) ? "(the agent gave no reason)" : response.Error;

    private static string Short(string containerId) => containerId.Length > 12 ? containerId[..12] : containerId;
}

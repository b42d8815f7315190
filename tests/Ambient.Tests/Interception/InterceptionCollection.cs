namespace Ambient.Tests.Interception;

/// <summary>
/// The interception tests run whole clusters (several daemons, agents, nginx) and check timings a user relies on
/// (a restarted daemon serves again within 2 s): they run alone, not beside the rest of the suite.
/// </summary>
[CollectionDefinition("interception", DisableParallelization = true)]
public sealed class InterceptionCollection;

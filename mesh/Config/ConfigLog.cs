using Microsoft.Extensions.Logging;

namespace Ambient.Config;

/// <summary>Structured log messages of the config layer (source-generated, AOT-safe).</summary>
internal static partial class ConfigLog
{
    [LoggerMessage(EventId = 1001, Level = LogLevel.Information,
        Message = "Loaded config {Source} generation {Generation}: {WorkloadCount} workloads, {ServiceCount} services, {AuthorizationPolicyCount} authorization policies, {PeerAuthenticationCount} peer authentications")]
    public static partial void ConfigLoaded(this ILogger logger, string source, long generation, int workloadCount, int serviceCount, int authorizationPolicyCount, int peerAuthenticationCount);

    [LoggerMessage(EventId = 1002, Level = LogLevel.Warning, Message = "Config error {File}:{Line}:{Column}: {Field}: {ErrorMessage}")]
    public static partial void ConfigError(this ILogger logger, string file, int line, int column, string field, string errorMessage);

    [LoggerMessage(EventId = 1003, Level = LogLevel.Warning, Message = "Rejected config {File} with {ErrorCount} error(s); keeping generation {Generation}")]
    public static partial void ConfigRejected(this ILogger logger, string file, int errorCount, long generation);

    [LoggerMessage(EventId = 1004, Level = LogLevel.Error, Message = "Reloading config {File} failed unexpectedly")]
    public static partial void ReloadFailed(this ILogger logger, Exception exception, string file);

    [LoggerMessage(EventId = 1005, Level = LogLevel.Warning, Message = "Cannot watch {Directory} for changes ({Reason}); polling every {PollInterval}")]
    public static partial void WatchUnavailable(this ILogger logger, string directory, string reason, TimeSpan pollInterval);

    [LoggerMessage(EventId = 1006, Level = LogLevel.Debug, Message = "File watcher for {Directory} reported an error; rescanning")]
    public static partial void WatcherError(this ILogger logger, Exception exception, string directory);

    [LoggerMessage(EventId = 1007, Level = LogLevel.Warning, Message = "Config {File}: rejected {RejectedCount} invalid object(s) ({RejectedObjects}); applying the rest")]
    public static partial void ObjectsRejected(this ILogger logger, string file, int rejectedCount, string rejectedObjects);

    /// <summary>Logs each error of a config that was applied without the objects they reject.</summary>
    public static void LogPartialErrors(this ILogger logger, ConfigLoadResult result, string file)
    {
        foreach (var error in result.Errors)
        {
            logger.ConfigError(error.File, error.Line, error.Column, error.FieldPath, error.Message);
        }
        logger.ObjectsRejected(file, result.Config!.RejectedObjects.Length, string.Join(", ", result.Config.RejectedObjects));
    }

    public static void LogErrors(this ILogger logger, ConfigLoadResult result, string file, long keptGeneration)
    {
        foreach (var error in result.Errors)
        {
            logger.ConfigError(error.File, error.Line, error.Column, error.FieldPath, error.Message);
        }
        logger.ConfigRejected(file, result.Errors.Length, keptGeneration);
    }
}

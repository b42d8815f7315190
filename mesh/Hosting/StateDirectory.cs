namespace Ambient.Hosting;

/// <summary>Where Ambient processes keep state (the local mesh CA) by default.</summary>
public static class StateDirectory
{
    public static string Default()
        => Environment.UserName == "root" || Environment.GetEnvironmentVariable("HOME") is not { Length: > 0 } home
            ? "/var/lib/ambient"
            : Path.Combine(home, ".local", "state", "ambient");
}

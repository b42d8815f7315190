namespace Ambient.Ctl;

/// <summary>What <c>ambientctl</c>'s exit status means, so scripts can tell "the daemon is away" from "you asked wrongly".</summary>
public static class ExitCodes
{
    /// <summary>Done; for <c>explain</c>, the connection would be carried (ALLOW or PASSTHROUGH).</summary>
    public const int Ok = 0;

    /// <summary>The daemon could not be reached, or answered with something other than its JSON.</summary>
    public const int Unreachable = 1;

    /// <summary>Bad command line, or the daemon refused the request (a 4xx with its message).</summary>
    public const int Usage = 2;

    /// <summary><c>explain</c> only: the connection would not be carried (DENY or REFUSED).</summary>
    public const int NotCarried = 3;
}

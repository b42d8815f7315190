namespace Ambient.Config.Routes;

/// <summary>Gateway API's list and value limits (from the CRD schema), enforced so a file that loads here also applies in a cluster.</summary>
internal static class RouteLimits
{
    public const int ParentRefs = 32;
    public const int Hostnames = 16;
    public const int Rules = 16;
    public const int Matches = 64;
    public const int HeaderMatches = 16;
    public const int QueryMatches = 16;
    public const int Filters = 16;
    public const int BackendRefs = 16;
    public const int HeaderModifierEntries = 16;
    public const int MaxWeight = 1_000_000;
    public const int PathLength = 1024;
    public const int HeaderNameLength = 256;
    public const int HeaderValueLength = 4096;
}

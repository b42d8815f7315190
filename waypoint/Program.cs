namespace Ambient.Waypoint;

public static class Program
{
    public static int Main(string[] args)
    {
        Console.Error.WriteLine("ambient-waypoint: not wired yet");
        return 1;
    }
}

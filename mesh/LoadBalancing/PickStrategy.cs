namespace Ambient.LoadBalancing;

/// <summary>How the endpoint was chosen within the candidate pool.</summary>
public enum PickStrategy : byte
{
    /// <summary>The pool had exactly one endpoint.</summary>
    Single,

    /// <summary>Two distinct endpoints drawn at random; the one with fewer open connections won (ties: either, at random).</summary>
    PowerOfTwoChoices,
}

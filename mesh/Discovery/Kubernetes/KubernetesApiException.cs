using System.Net;

namespace Ambient.Discovery.Kubernetes;

/// <summary>
/// The API server answered with a failure: an HTTP error status, or an <c>ERROR</c> watch event carrying a
/// <c>Status</c> object. <see cref="Code"/> is the Status code (the HTTP status when the body had none).
/// </summary>
internal sealed class KubernetesApiException : Exception
{
    public KubernetesApiException(int code, string reason, string message)
        : base(string.IsNullOrEmpty(reason) ? $"{code}: {message}" : $"{code} {reason}: {message}")
    {
        Code = code;
        Reason = reason;
        StatusMessage = message;
    }

    public int Code { get; }

    /// <summary>Status <c>reason</c>, e.g. <c>Expired</c>, <c>Gone</c>, <c>NotFound</c>, <c>Forbidden</c>.</summary>
    public string Reason { get; }

    public string StatusMessage { get; }

    /// <summary>410: the requested resourceVersion (or continue token) is too old; the client must relist.</summary>
    public bool IsGone => Code == (int)HttpStatusCode.Gone || Reason is "Expired" or "Gone";

    public bool IsNotFound => Code == (int)HttpStatusCode.NotFound;
}

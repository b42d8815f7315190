namespace Ambient.Identity;

/// <summary>
/// <see cref="CertificateManager.GetAsync"/> has no valid certificate for <see cref="Identity"/>:
/// issuance failed (see <see cref="Exception.InnerException"/>) and is being retried in the background.
/// </summary>
public sealed class CertificateUnavailableException : Exception
{
    public CertificateUnavailableException(SpiffeId identity, string message, Exception? inner)
        : base(message, inner)
    {
        Identity = identity;
    }

    public SpiffeId Identity { get; }
}

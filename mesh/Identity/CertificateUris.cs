using System.Formats.Asn1;
using System.Security.Cryptography.X509Certificates;

namespace Ambient.Identity;

/// <summary>
/// Reads uniformResourceIdentifier entries from a certificate's subjectAltName extension.
/// .NET 10's <see cref="X509SubjectAlternativeNameExtension"/> only enumerates DNS names and IP
/// addresses, so the GeneralNames sequence is walked here with <see cref="AsnReader"/>.
/// </summary>
internal static class CertificateUris
{
    private const string SubjectAltNameOid = "2.5.29.17";

    // GeneralName ::= CHOICE { ... uniformResourceIdentifier [6] IA5String ... } (implicit tagging)
    private static readonly Asn1Tag UriTag = new(TagClass.ContextSpecific, 6);

    public static List<string> Read(X509Certificate2 certificate)
    {
        var uris = new List<string>(1);
        foreach (var extension in certificate.Extensions)
        {
            if (extension.Oid?.Value != SubjectAltNameOid)
            {
                continue;
            }

            var reader = new AsnReader(extension.RawData, AsnEncodingRules.DER);
            var names = reader.ReadSequence();
            reader.ThrowIfNotEmpty();
            while (names.HasData)
            {
                var tag = names.PeekTag();
                if (tag.HasSameClassAndValue(UriTag))
                {
                    uris.Add(names.ReadCharacterString(UniversalTagNumber.IA5String, UriTag));
                }
                else
                {
                    names.ReadEncodedValue();
                }
            }
        }

        return uris;
    }
}

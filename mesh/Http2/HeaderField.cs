namespace Ambient.Http2;

/// <summary>One decoded HTTP/2 header. Names are lower-case octets; values are octets read as Latin-1.</summary>
public readonly record struct HeaderField(string Name, string Value)
{
    /// <summary>RFC 7541 §4.1: an entry's size is name + value + 32 octets of overhead.</summary>
    public int HpackSize => Name.Length + Value.Length + 32;
}

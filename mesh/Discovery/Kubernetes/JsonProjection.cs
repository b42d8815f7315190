using System.Buffers;
using System.Text.Json;

namespace Ambient.Discovery.Kubernetes;

/// <summary>
/// Keeps only listed fields of a JSON object: <c>"metadata.labels"</c> keeps that subtree, <c>"spec.containers[].ports"</c>
/// keeps the <c>ports</c> of every element of the <c>containers</c> array. The result is compact JSON bytes whose equality
/// means "nothing the mesh reads has changed". A value whose type differs from what a path expects (a string where an
/// object was expected) is kept whole, so that the mapping can report it instead of it silently vanishing.
/// </summary>
internal sealed class JsonProjection
{
    private readonly Node _root = new();

    private JsonProjection()
    {
    }

    public static JsonProjection Of(IEnumerable<string> paths)
    {
        var projection = new JsonProjection();
        foreach (var path in paths)
        {
            var node = projection._root;
            foreach (var rawPart in path.Split('.'))
            {
                var each = rawPart.EndsWith("[]", StringComparison.Ordinal);
                var part = each ? rawPart[..^2] : rawPart;
                node.Children ??= new Dictionary<string, Node>(StringComparer.Ordinal);
                if (!node.Children.TryGetValue(part, out var child)) node.Children[part] = child = new Node();
                if (each) child.EachElement = true;
                node = child;
            }
            node.CopyAll = true;
        }
        return projection;
    }

    /// <summary>The projected object as compact UTF-8 JSON.</summary>
    public byte[] Apply(JsonElement element)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            Write(writer, element, _root);
        }
        return buffer.WrittenSpan.ToArray();
    }

    private static void Write(Utf8JsonWriter writer, JsonElement element, Node node)
    {
        if (node.CopyAll || node.Children is null)
        {
            element.WriteTo(writer);
            return;
        }
        switch (element.ValueKind)
        {
            case JsonValueKind.Array when node.EachElement:
                writer.WriteStartArray();
                foreach (var item in element.EnumerateArray()) WriteObject(writer, item, node);
                writer.WriteEndArray();
                break;
            default:
                WriteObject(writer, element, node);
                break;
        }
    }

    private static void WriteObject(Utf8JsonWriter writer, JsonElement element, Node node)
    {
        if (element.ValueKind != JsonValueKind.Object)
        {
            element.WriteTo(writer);
            return;
        }
        writer.WriteStartObject();
        foreach (var property in element.EnumerateObject())
        {
            if (!node.Children!.TryGetValue(property.Name, out var child)) continue;
            writer.WritePropertyName(property.Name);
            if (child.EachElement && !child.CopyAll && property.Value.ValueKind == JsonValueKind.Array)
            {
                writer.WriteStartArray();
                foreach (var item in property.Value.EnumerateArray()) WriteObject(writer, item, child);
                writer.WriteEndArray();
            }
            else
            {
                Write(writer, property.Value, child);
            }
        }
        writer.WriteEndObject();
    }

    private sealed class Node
    {
        public Dictionary<string, Node>? Children;
        public bool CopyAll;
        public bool EachElement;
    }
}
